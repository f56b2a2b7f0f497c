/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_tls.c - the TLS transport's pure parts and its contract: ticket keys
 * rotated with the previous one kept for one period; server names looked up
 * as vhosts' are (exact, then the longest wildcard suffix, else the
 * default); certificates refused for a key others may read, a key not
 * theirs, or dates past; and over a socketpair against an OpenSSL client,
 * the handshake driven by reads, a read that stops short only when nothing
 * more can come, writes whose count is what was sent and whose re-offer
 * after EAGAIN finishes the record begun, sendfile by pread and SSL_write,
 * info() and close_notify on shutdown.
 */
#include "test.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

TEST(ticket_keys_rotate_and_keep_the_previous_for_one_period)
{
    tls_shared *sh = tls_shared_new(1000);
    CHECK(sh != NULL);
    uint64_t t0 = mono_ms();
    unsigned char a[16], b[16], c[16];
    tls_ticket_current(sh, t0, a);
    CHECK_EQ_INT(tls_ticket_known(sh, t0, a), 1);
    tls_ticket_current(sh, t0 + 500, b);
    CHECK(memcmp(a, b, 16) == 0); /* not due yet */
    tls_ticket_current(sh, t0 + 1100, b);
    CHECK(memcmp(a, b, 16) != 0);
    CHECK_EQ_INT(tls_ticket_known(sh, t0 + 1100, b), 1);
    CHECK_EQ_INT(tls_ticket_known(sh, t0 + 1100, a), 2); /* the previous: a new ticket */
    tls_ticket_current(sh, t0 + 2200, c);
    CHECK_EQ_INT(tls_ticket_known(sh, t0 + 2200, a), 0); /* two periods on: retired */
    CHECK_EQ_INT(tls_ticket_known(sh, t0 + 2200, b), 2);
    /* Idle for long: the current key is too old to be even the previous. */
    CHECK_EQ_INT(tls_ticket_known(sh, t0 + 9000, c), 0);
    unsigned char unknown[16] = {0};
    CHECK_EQ_INT(tls_ticket_known(sh, t0 + 9000, unknown), 0);
    tls_shared_free(sh);
}

TEST(server_names_pick_exact_then_longest_wildcard_then_the_default)
{
    char err[256];
    tls_settings set = {0};
    tls_certs *c = tls_certs_new(&set, err, sizeof err);
    CHECK(c != NULL);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(tls_certs_add(c, err, sizeof err), i);
    CHECK_EQ_INT(tls_certs_name(c, "a.test", 6, 0, 0), 0);
    CHECK_EQ_INT(tls_certs_name(c, ".b.test", 7, 1, 1), 0);
    CHECK_EQ_INT(tls_certs_name(c, ".x.b.test", 9, 1, 3), 0);
    tls_certs_default(c, 2);
    CHECK_EQ_INT(tls_certs_lookup(c, "a.test"), 0);
    CHECK_EQ_INT(tls_certs_lookup(c, "A.Test."), 0);
    CHECK_EQ_INT(tls_certs_lookup(c, "www.b.test"), 1);
    CHECK_EQ_INT(tls_certs_lookup(c, "y.x.b.test"), 3);
    CHECK_EQ_INT(tls_certs_lookup(c, "b.test"), 2); /* *.b.test is not b.test */
    CHECK_EQ_INT(tls_certs_lookup(c, "other.test"), 2);
    CHECK_EQ_INT(tls_certs_lookup(c, NULL), 2);
    tls_certs_release(c);
}

/* ---- certificates made here ---- */

static char dir[64];

/* A self-signed P-256 certificate for localhost valid from `from` to `to`
 * seconds from now, as NAME.crt and NAME.key (mode 0600) in dir. */
static void make_cert(const char *name, long from, long to)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    X509_sign(x, k, EVP_sha256());
    char path[128];
    snprintf(path, sizeof path, "%s/%s.crt", dir, name);
    FILE *f = fopen(path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    f = fopen(path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(path, 0600);
    X509_free(x);
    EVP_PKEY_free(k);
}

static const char *path_of(const char *name, const char *ext)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s.%s", dir, name, ext);
    return p[i];
}

static void cleanup(void)
{
    static const char *const files[] = {"good", "other", "old"};
    for (int i = 0; i < 3; i++) {
        unlink(path_of(files[i], "crt"));
        unlink(path_of(files[i], "key"));
    }
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0]) return;
    atexit(cleanup);
    snprintf(dir, sizeof dir, "/tmp/htd-test-tls-XXXXXX");
    if (!mkdtemp(dir)) abort();
    make_cert("good", -60, 86400);
    make_cert("other", -60, 86400);
    make_cert("old", -2 * 86400, -86400);
}

static tls_certs *certs_with(const char *name, char *err, size_t errlen, int *rc)
{
    tls_settings set = {0};
    tls_certs *c = tls_certs_new(&set, err, errlen);
    tls_certs_add(c, err, errlen);
    tls_certs_default(c, 0);
    *rc = tls_certs_load(c, 0, path_of(name, "crt"), path_of(name, "key"), err, errlen);
    return c;
}

TEST(certificates_are_checked_as_they_are_loaded)
{
    setup();
    char err[512];
    int rc;
    tls_certs *c = certs_with("good", err, sizeof err, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(tls_certs_ready(c, 0));
    tls_certs_release(c);

    c = certs_with("old", err, sizeof err, &rc);
    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, "has expired") != NULL);
    tls_certs_release(c);

    tls_settings set = {0};
    c = tls_certs_new(&set, err, sizeof err);
    tls_certs_add(c, err, sizeof err);
    CHECK_EQ_INT(
        tls_certs_load(c, 0, path_of("good", "crt"), path_of("other", "key"), err, sizeof err), -1);
    CHECK(strstr(err, "does not match") != NULL);
    chmod(path_of("other", "key"), 0640);
    CHECK_EQ_INT(
        tls_certs_load(c, 0, path_of("other", "crt"), path_of("other", "key"), err, sizeof err),
        -1);
    CHECK(strstr(err, "may be read by its group") != NULL);
    chmod(path_of("other", "key"), 0600);
    tls_certs_release(c);
}

/* ---- the contract, against a client ---- */

typedef struct pair {
    int sv[2]; /* the server's end (the transport's), the client's */
    tls_shared *sh;
    tls_certs *certs;
    transport *t;
    SSL_CTX *cctx;
    SSL *cli;
} pair;

/* A handshake driven by the server's reads, as a connection drives it. */
static int open_pair(pair *p, int version)
{
    setup();
    char err[256];
    int rc;
    memset(p, 0, sizeof *p);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->sv) < 0) return -1;
    p->certs = certs_with("good", err, sizeof err, &rc);
    p->sh = tls_shared_new(0);
    p->t = tls_open(p->certs, p->sh, p->sv[0]);
    p->cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(p->cctx, version);
    SSL_CTX_set_max_proto_version(p->cctx, version);
    p->cli = SSL_new(p->cctx);
    SSL_set_fd(p->cli, p->sv[1]);
    SSL_set_tlsext_host_name(p->cli, "localhost");
    SSL_set_connect_state(p->cli);
    char buf[16];
    for (int i = 0; i < 50; i++) {
        int done = SSL_do_handshake(p->cli) == 1;
        ssize_t n = transport_read(p->t, p->sv[0], buf, sizeof buf);
        if (done && n < 0 && errno == EAGAIN) return 0;
        if (n >= 0 || errno != EAGAIN) return -1;
    }
    return -1;
}

static void close_pair(pair *p)
{
    transport_close(p->t, p->sv[0]);
    SSL_free(p->cli);
    SSL_CTX_free(p->cctx);
    close(p->sv[1]);
    tls_certs_release(p->certs);
    tls_shared_free(p->sh);
    ERR_clear_error();
}

/* Everything the client can read now, appended to buf[*len..cap). */
static void client_drain(pair *p, char *buf, size_t *len, size_t cap)
{
    size_t n;
    while (*len < cap && SSL_read_ex(p->cli, buf + *len, cap - *len, &n) == 1)
        *len += n;
    ERR_clear_error();
}

TEST(reads_decrypt_until_nothing_more_can_come)
{
    for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        pair p;
        CHECK_EQ_INT(open_pair(&p, v), 0);
        size_t w;
        /* Three records, read in one call: it stops short only at the end. */
        CHECK(SSL_write_ex(p.cli, "GET / HTTP/1.1\r\n", 16, &w) == 1);
        CHECK(SSL_write_ex(p.cli, "Host: x\r\n", 9, &w) == 1);
        CHECK(SSL_write_ex(p.cli, "\r\n", 2, &w) == 1);
        char buf[64];
        ssize_t n = transport_read(p.t, p.sv[0], buf, sizeof buf);
        CHECK_STR(buf, n, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        errno = 0;
        CHECK_EQ_INT(transport_read(p.t, p.sv[0], buf, sizeof buf), -1);
        CHECK_EQ_INT(errno, EAGAIN);
        CHECK_EQ_INT(transport_pending(p.t), 0);
        /* A buffer too small: full, and the rest is pending. */
        CHECK(SSL_write_ex(p.cli, "0123456789", 10, &w) == 1);
        CHECK_EQ_INT(transport_read(p.t, p.sv[0], buf, 4), 4);
        CHECK(transport_pending(p.t) & TRANSPORT_READABLE);
        n = transport_read(p.t, p.sv[0], buf, sizeof buf);
        CHECK_STR(buf, n, "456789");
        transport_info ti;
        CHECK_EQ_INT(transport_get_info(p.t, &ti), 0);
        CHECK(strcmp(ti.protocol, v == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2") == 0);
        CHECK(ti.server_name && strcmp(ti.server_name, "localhost") == 0);
        CHECK(ti.cipher != NULL);
        CHECK_EQ_INT(transport_get_info(&transport_plain, &ti), -1);
        /* The client's close_notify reads as the end. */
        SSL_shutdown(p.cli);
        CHECK_EQ_INT(transport_read(p.t, p.sv[0], buf, sizeof buf), 0);
        close_pair(&p);
    }
}

TEST(writes_count_what_was_sent_and_a_re_offer_finishes_the_record)
{
    pair p;
    CHECK_EQ_INT(open_pair(&p, TLS1_3_VERSION), 0);
    /* 1 MiB in pieces of every size, written until the socket is full. */
    size_t total = 1 << 20;
    char *src = malloc(total), *got = malloc(total);
    for (size_t i = 0; i < total; i++)
        src[i] = (char)(i * 7 + i / 251);
    size_t sent = 0, have = 0;
    int eagains = 0, rounds = 0;
    while (have < total && rounds++ < 100000) {
        /* The out queue's view: what is left, as three pieces. */
        size_t left = total - sent, a = left < 100 ? left : 100, b = left - a > 5000 ? 5000 : 0;
        struct iovec iov[3] = {{src + sent, a}, {src + sent + a, b}, {src + sent + a + b, 0}};
        iov[2].iov_len = left - a - b;
        int cnt = left ? 3 : 0;
        if (cnt) {
            ssize_t n = transport_writev(p.t, p.sv[0], iov, cnt, 0);
            if (n < 0) {
                CHECK_EQ_INT(errno, EAGAIN);
                eagains++;
            } else {
                CHECK(n > 0);
                sent += (size_t)n;
                if ((size_t)n < left) { /* less than asked: the next says EAGAIN */
                    errno = 0;
                    iov[0].iov_base = src + sent;
                    iov[0].iov_len = total - sent;
                    CHECK_EQ_INT(transport_writev(p.t, p.sv[0], iov, 1, 0), -1);
                    CHECK_EQ_INT(errno, EAGAIN);
                    eagains++; /* a record begun: the next round offers it again */
                }
            }
        }
        client_drain(&p, got, &have, total);
    }
    CHECK(eagains > 0);
    CHECK_EQ_INT(have, total);
    CHECK(memcmp(src, got, total) == 0);
    free(src);
    free(got);
    close_pair(&p);
}

TEST(sendfile_reads_and_writes_a_range_and_shutdown_sends_close_notify)
{
    pair p;
    CHECK_EQ_INT(open_pair(&p, TLS1_2_VERSION), 0);
    char path[] = "/tmp/htd-test-tls-file-XXXXXX";
    int fd = mkstemp(path);
    size_t size = 300000;
    char *data = malloc(size), *got = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i % 253);
    CHECK_EQ_INT(write(fd, data, size), size);
    unlink(path);
    off_t off = 1000;
    size_t want = size - 2000, have = 0;
    int rounds = 0, short_writes = 0;
    while ((size_t)off < 1000 + want && rounds++ < 100000) {
        size_t asked = 1000 + want - (size_t)off;
        ssize_t n = transport_sendfile(p.t, p.sv[0], fd, &off, asked);
        CHECK(n > 0 || (n < 0 && errno == EAGAIN));
        if (n >= 0 && (size_t)n < asked) { /* less than asked: the next says EAGAIN */
            short_writes++;
            off_t o = off;
            errno = 0;
            CHECK_EQ_INT(transport_sendfile(p.t, p.sv[0], fd, &off, asked - (size_t)n), -1);
            CHECK_EQ_INT(errno, EAGAIN);
            CHECK_EQ_INT(off, o); /* nothing more counted as taken */
        }
        client_drain(&p, got, &have, want);
    }
    CHECK(short_writes > 0); /* the socket filled mid-batch, and the batch went on later */
    while (have < want && rounds++ < 100000)
        client_drain(&p, got, &have, want);
    CHECK_EQ_INT(have, want);
    CHECK(memcmp(got, data + 1000, want) == 0);
    off = (off_t)size;
    CHECK_EQ_INT(transport_sendfile(p.t, p.sv[0], fd, &off, 10), 0); /* the end of the file */
    CHECK_EQ_INT(transport_shutdown(p.t, p.sv[0]), 0);
    char c;
    size_t n;
    CHECK(SSL_read_ex(p.cli, &c, 1, &n) == 0);
    CHECK_EQ_INT(SSL_get_error(p.cli, 0), SSL_ERROR_ZERO_RETURN);
    close(fd);
    free(data);
    free(got);
    close_pair(&p);
}

int main(void)
{
    RUN_TESTS();
}
