/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forwarded.c - the client's address from Forwarded (RFC 7239) or
 * X-Forwarded-For, believing only the trusted proxies at the list's right end.
 *
 * The list is read once, left to right, as its grammar must be (a quoted
 * string may hold commas), and each hop is judged as it is found; the walk
 * from the right is then "the last hop that is not a trusted address", kept
 * as the scan goes, so no list of hops is stored and no count of hops is
 * limited. What lies left of that hop, malformed or not, decides nothing:
 * a client cannot make itself look like a proxy by sending garbage before
 * what the proxies append.
 */
#include "forwarded.h"

#include "fields.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum hop_kind {
    HOP_ADDR,    /* an address, maybe with a port */
    HOP_UNKNOWN, /* "unknown", "_obfuscated", a Forwarded element without for= */
    HOP_BAD,     /* malformed */
};

typedef struct hop {
    enum hop_kind kind;
    struct sockaddr_in6 sa; /* HOP_ADDR */
    const char *why;        /* HOP_BAD */
} hop;

/* The walk from the right, kept while the list is read from the left. */
typedef struct walk {
    const htd_cidr *trusted;
    size_t ntrusted;
    size_t nhops;
    hop first;                 /* the left-most hop */
    int stopped;               /* some hop is not a trusted address */
    hop stop;                  /* the right-most such hop */
    int have_after;            /* a trusted address right of stop */
    struct sockaddr_in6 after; /* the nearest one */
} walk;

static void walk_hop(walk *w, const hop *h)
{
    int trusted = h->kind == HOP_ADDR && htd_cidr_list_match(w->trusted, w->ntrusted, &h->sa);
    if (w->nhops++ == 0) w->first = *h;
    if (!trusted) {
        w->stopped = 1;
        w->stop = *h;
        w->have_after = 0;
    } else if (w->stopped && !w->have_after) {
        w->have_after = 1;
        w->after = h->sa;
    }
}

static hop bad(const char *why)
{
    return (hop){.kind = HOP_BAD, .why = why};
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "_" 1*( ALPHA / DIGIT / "." / "_" / "-" ): RFC 7239's obfnode and obfport. */
static int obfuscated(const char *s, size_t n)
{
    if (n < 2 || s[0] != '_') return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* 1*5DIGIT up to 65535, into *port (network order); leading zeros allowed,
 * as RFC 7239's grammar allows them. */
static int port_of(const char *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5) return 0;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!digit(s[i])) return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return 0;
    *port = htons((uint16_t)v);
    return 1;
}

static int ip_of(const char *s, size_t n, int family, struct sockaddr_in6 *sa)
{
    char buf[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof buf || memchr(s, '\0', n)) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(sa, 0, sizeof *sa);
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)sa;
        s4->sin_family = AF_INET;
        return inet_pton(AF_INET, buf, &s4->sin_addr) == 1;
    }
    sa->sin6_family = AF_INET6;
    return inet_pton(AF_INET6, buf, &sa->sin6_addr) == 1;
}

static void set_port(struct sockaddr_in6 *sa, uint16_t port)
{
    if (sa->sin6_family == AF_INET)
        ((struct sockaddr_in *)(void *)sa)->sin_port = port;
    else
        sa->sin6_port = port;
}

/*
 * A node: IPv4, "[IPv6]", "unknown" or "_obfuscated", then nothing or ":" and
 * a port (or "_obfport"). With bare_v6, also an IPv6 address without brackets
 * (and so without a port), as X-Forwarded-For writes it.
 */
static hop node(const char *s, size_t n, int bare_v6)
{
    hop h = {.kind = HOP_ADDR};
    size_t end; /* of the name; a port may follow */
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return bad("an IPv6 address without its ']'");
        end = (size_t)(close - s) + 1;
        if (!ip_of(s + 1, end - 2, AF_INET6, &h.sa)) return bad("a bad IPv6 address");
    } else {
        const char *colon = memchr(s, ':', n);
        end = colon ? (size_t)(colon - s) : n;
        if (end == 7 && strncasecmp(s, "unknown", 7) == 0) {
            h.kind = HOP_UNKNOWN;
        } else if (obfuscated(s, end)) {
            h.kind = HOP_UNKNOWN;
        } else if (ip_of(s, end, AF_INET, &h.sa)) {
            /* IPv4 */
        } else if (bare_v6 && colon) {
            if (!ip_of(s, n, AF_INET6, &h.sa)) return bad("a bad IP address");
            return h;
        } else {
            return bad("a bad IP address");
        }
    }
    if (end == n) return h;
    if (s[end] != ':') return bad("text after an IP address");
    uint16_t port;
    if (obfuscated(s + end + 1, n - end - 1)) return h;
    if (!port_of(s + end + 1, n - end - 1, &port)) return bad("a bad port");
    if (h.kind == HOP_ADDR) set_port(&h.sa, port);
    return h;
}

/* X-Forwarded-For: one element per comma, optional whitespace around. */
static void xff_line(walk *w, const char *s, size_t n)
{
    if (n == 0) return; /* s may be NULL */
    size_t i = 0;
    while (i <= n) {
        const char *comma = memchr(s + i, ',', n - i);
        size_t e = comma ? (size_t)(comma - s) : n, a = i, b = e;
        while (a < b && ows(s[a]))
            a++;
        while (b > a && ows(s[b - 1]))
            b--;
        if (b > a) {
            hop h = node(s + a, b - a, 1);
            walk_hop(w, &h);
        }
        i = e + 1;
    }
}

/* A quoted-string at s[*i] (the opening quote), its content unescaped into
 * out (when not NULL) up to cap bytes. Returns its unescaped length, or -1 if
 * it is malformed, unterminated or, being kept, longer than cap. */
static long quoted(const char *s, size_t *i, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t j = *i + 1; j < n; j++) {
        unsigned char c = (unsigned char)s[j];
        if (c == '"') {
            *i = j + 1;
            return (long)len;
        }
        if (c == '\\') {
            if (++j == n) return -1;
            c = (unsigned char)s[j];
            if (c != '\t' && (c < 0x20 || c == 0x7f)) return -1;
        } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return -1;
        }
        if (out) {
            if (len == cap) return -1;
            out[len] = (char)c;
        }
        len++;
    }
    return -1;
}

/* Where the element that starts at s[i] ends: the next comma outside a
 * quoted string (a '"' anywhere opens one), or n. Used to step over a
 * malformed element as a list's reader must, whatever its fault. */
static size_t element_end(const char *s, size_t i, size_t n)
{
    int in_quote = 0;
    for (; i < n; i++) {
        if (in_quote && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            in_quote = !in_quote;
        else if (!in_quote && s[i] == ',')
            return i;
    }
    return n;
}

static size_t token_end(const char *s, size_t i, size_t n)
{
    while (i < n && htd_is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* A name=value pair at s[*j], with *j moved past it; a for= value sets *h.
 * Returns NULL, or why the pair is malformed. */
static const char *forwarded_pair(const char *s, size_t *j, size_t n, unsigned *seen, hop *h)
{
    static const char *const known[] = {"for", "by", "host", "proto"};
    size_t name = *j, at = token_end(s, *j, n), name_len = at - name;
    if (name_len == 0) return "a Forwarded parameter without a name";
    if (at == n || s[at] != '=') return "a Forwarded parameter without '='";
    at++;
    for (unsigned k = 0; k < sizeof known / sizeof known[0]; k++)
        if (name_len == strlen(known[k]) && strncasecmp(s + name, known[k], name_len) == 0) {
            if (*seen & 1u << k) return "a Forwarded parameter twice in one element";
            *seen |= 1u << k;
        }
    int is_for = name_len == 3 && strncasecmp(s + name, "for", 3) == 0;
    char buf[256];
    const char *v = s + at;
    size_t vlen;
    if (at < n && s[at] == '"') {
        long q = quoted(s, &at, n, is_for ? buf : NULL, sizeof buf);
        if (q < 0) return "a malformed quoted string in Forwarded";
        v = buf;
        vlen = (size_t)q;
    } else {
        size_t e = token_end(s, at, n);
        vlen = e - at;
        at = e;
        if (vlen == 0) return "a Forwarded parameter without a value";
    }
    *j = at;
    if (is_for) {
        *h = node(v, vlen, 0);
        if (h->kind == HOP_BAD) return h->why;
    }
    return NULL;
}

/* One forwarded-element at s[*i]: its hop, with *i moved to the comma that
 * ends it or to n. */
static hop forwarded_element(const char *s, size_t *i, size_t n)
{
    hop h = {.kind = HOP_UNKNOWN}; /* until a for= says otherwise */
    unsigned seen = 0;
    size_t j = *i;
    for (;;) {
        if (j < n && s[j] != ';' && s[j] != ',') {
            const char *why = forwarded_pair(s, &j, n, &seen, &h);
            if (why) return bad(why);
        }
        while (j < n && ows(s[j]))
            j++;
        if (j == n || s[j] == ',') break;
        if (s[j] != ';') return bad("a Forwarded element with text where ';' or ',' belongs");
        j++;
        while (j < n && ows(s[j]))
            j++;
    }
    *i = j;
    return h;
}

static void forwarded_line(walk *w, const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        while (i < n && ows(s[i]))
            i++;
        if (i == n) return;
        if (s[i] == ',') { /* an empty element */
            i++;
            continue;
        }
        size_t start = i;
        hop h = forwarded_element(s, &i, n);
        if (h.kind == HOP_BAD) i = element_end(s, start, n);
        walk_hop(w, &h);
        if (i < n) i++; /* the comma */
    }
}

int htd_forwarded_client(enum htd_fwd_field field, const htd_str *values, size_t nvalues,
                         const struct sockaddr_in6 *peer, const htd_cidr *trusted, size_t ntrusted,
                         struct sockaddr_in6 *client, const char **why)
{
    *client = *peer;
    if (!htd_cidr_list_match(trusted, ntrusted, peer)) return 0;

    walk w = {.trusted = trusted, .ntrusted = ntrusted};
    for (size_t i = 0; i < nvalues; i++) {
        if (field == HTD_FWD_FORWARDED)
            forwarded_line(&w, values[i].p, values[i].len);
        else
            xff_line(&w, values[i].p, values[i].len);
    }
    if (w.nhops == 0) return 0;
    if (!w.stopped) {
        *client = w.first.sa;
        return 1;
    }
    switch (w.stop.kind) {
    case HOP_ADDR:
        *client = w.stop.sa;
        return 1;
    case HOP_UNKNOWN:
        if (!w.have_after) return 0;
        *client = w.after;
        return 1;
    case HOP_BAD:
        break;
    }
    *why = w.stop.why;
    return -1;
}
