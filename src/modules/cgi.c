/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgi.c - CGI/1.1 scripts (RFC 3875).
 *
 * A script runs in its own process group (posix_spawn), its standard input,
 * output and error on nonblocking pipes in the loop's epoll set, its exit
 * on a pidfd. Nothing waits: the request body goes to the script as it
 * arrives (de-chunked), and its output goes to the client as it is produced
 * (chunked, unless the script gave a Content-Length), one 16 KiB buffer at a
 * time: the script is read again only once the client has taken the last
 * buffer, so a slow client slows the script, never the loop, and memory per
 * script stays bounded.
 *
 * The script's life and the connection's are apart: a script outlives a
 * client that went away (it is killed, then reaped), and a connection goes
 * on to its next request while a script that closed its output still runs.
 * A script is freed once it has been reaped and no connection points to it.
 */
#include "cgi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "beneath.h"
#include "cgienv.h"
#include "conn.h"
#include "errlog.h"
#include "fields.h"
#include "log.h"
#include "module.h"
#include "path.h"
#include "req.h"
#include "response.h"
#include "site.h"
#include "store.h"

#define CGI_BUF 16384 /* script output read at once; also the largest header block */
#define CGI_IN 16384  /* request body bytes on their way to the script */

enum { END_IN, END_OUT, END_ERR, END_PID, END_COUNT };

/* The script of c's request (its slot: NULL when none). */
#define CGI_OF(c) (*(cgi **)req_slot((c)->req, &cgi_module))

typedef struct cgi cgi;

typedef struct cgi_end {
    watcher ev;
    uint8_t which;
    int fd; /* -1 once closed */
    cgi *g;
} cgi_end;

struct cgi {
    cgi_end end[END_COUNT];
    uint8_t dead;
    conn *c; /* NULL once the connection has let go */
    worker *l;
    site *st; /* held: vh, sc and the log live in it */
    const vhost *vh;
    const scope *sc; /* the request's rule: its headers go on the script's response */
    htd_timer timer; /* the time limit, on the worker's T_CGI list */
    pid_t pid;
    uint8_t exited, nph, head_sent, chunked, eof, bodyless;
    uint8_t expired; /* its time limit ran out before its head */
    int status;      /* the response status */
    int64_t cl_left; /* a Content-Length the script gave: bytes still to pass on, or -1 */
    uint64_t sent;   /* body bytes passed on */
    size_t in_len, in_off;
    size_t o_len;       /* bytes in out */
    size_t h_end;       /* after the header block, in out */
    htd_head_parser hp; /* looking for the end of the header block */
    htd_response head;  /* the header block, once h_end is set */
    char method[16], target[512];
    int version, method_id;
    char name[256]; /* SCRIPT_NAME, for messages */
    char ctx[48];   /* the error log's: its connection and request id, for as long as it runs */
    char err[256];  /* a partial stderr line */
    size_t err_len;
    char in[CGI_IN];
    char out[CGI_BUF];
};

/* ---- lookup ---- */

int cgi_claims(const vhost *vh, const rule *ru, const char *path, size_t len)
{
    if (ru && ru->cgi != FEAT_UNSET) return ru->cgi == FEAT_ON;
    for (size_t i = 0; i < vh->ncgi; i++)
        if (htd_path_under(path, len, vh->cgi[i], strlen(vh->cgi[i]))) return 1;
    return 0;
}

/* Splits path into the script and PATH_INFO: the first segment, walking
 * down, that is not a directory. 0 with *script_len set; else an HTTP
 * status and a reason. The dotfile rule holds for each segment as opened,
 * symlinks followed, as for its URL: no link runs a script under .git. */
static int find_script(const vhost *vh, const char *path, size_t len, size_t *script_len,
                       const char **why)
{
    char rel[REQ_PATH_MAX + 1], where[PATH_MAX];
    size_t i = 1;
    while (i <= len) {
        size_t end = i;
        while (end < len && path[end] != '/')
            end++;
        if (end == i) { /* an empty segment: a trailing slash on a directory */
            *why = "no script named";
            return 404;
        }
        memcpy(rel, path + 1, end - 1);
        rel[end - 1] = 0;
        int fd = htd_open_resolved(vh->root_fd, rel, O_PATH, where, sizeof where);
        if (fd >= 0 && htd_path_hidden(where, strlen(where))) {
            close(fd);
            *why = "dotfiles are not served";
            return 403;
        }
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            int e = errno;
            if (fd >= 0) close(fd);
            *why = e == ENOENT || e == ENOTDIR ? "no such script"
                   : e == EXDEV || e == ELOOP  ? "a symbolic link leads outside the document root"
                   : e == ENAMETOOLONG         ? "path too long" /* a segment over 255 bytes */
                                               : "cannot open the script";
            return e == ENOENT || e == ENOTDIR               ? 404
                   : e == EXDEV || e == ELOOP || e == EACCES ? 403
                   : e == ENAMETOOLONG                       ? 414
                                                             : 500;
        }
        close(fd);
        if (S_ISREG(st.st_mode)) {
            if (!(st.st_mode & 0111)) {
                *why = "the script is not executable";
                return 403;
            }
            *script_len = end;
            return 0;
        }
        if (!S_ISDIR(st.st_mode)) {
            *why = "not a script";
            return 403;
        }
        i = end + 1;
    }
    *why = "no script named";
    return 404;
}

/* ---- the environment (RFC 3875 section 4.1) ---- */

static void build_env(envb *e, conn *c, const vhost *vh, size_t script_len, const char *abs_script)
{
    const struct htd_req *hr = c->req;
    const htd_request *r = hr->r;
    char host[INET6_ADDRSTRLEN], port[8];

    env_str(e, "GATEWAY_INTERFACE", "CGI/1.1");
    env_str(e, "SERVER_SOFTWARE", "htd/" HTD_VERSION);
    env_str(e, "SERVER_PROTOCOL",
            r->version == 10  ? "HTTP/1.0"
            : r->version == 9 ? "HTTP/0.9"
                              : "HTTP/1.1");
    env_add(e, "REQUEST_METHOD", r->method.p, r->method.len);
    env_add(e, "REQUEST_URI", r->target.p, r->target.len);
    env_add(e, "QUERY_STRING", r->query.p ? r->query.p : "", r->query.p ? r->query.len : 0);
    env_add(e, "SCRIPT_NAME", hr->path, script_len);
    if (script_len < hr->path_len) {
        env_add(e, "PATH_INFO", hr->path + script_len, hr->path_len - script_len);
        char pt[REQ_PATH_MAX + 4096 + 2];
        int n = snprintf(pt, sizeof pt, "%s%.*s", vh->root, (int)(hr->path_len - script_len),
                         hr->path + script_len);
        if (n > 0 && (size_t)n < sizeof pt) env_add(e, "PATH_TRANSLATED", pt, (size_t)n);
    }
    env_str(e, "SCRIPT_FILENAME", abs_script);
    env_str(e, "DOCUMENT_ROOT", vh->root);

    env_addr_str((const struct sockaddr_storage *)&hr->client, host, sizeof host, port,
                 sizeof port);
    env_str(e, "REMOTE_ADDR", host);
    env_str(e, "REMOTE_HOST", host); /* no reverse lookups: the address, as 4.1.9 allows */
    env_str(e, "REMOTE_PORT", port);
    struct sockaddr_storage local;
    socklen_t ll = sizeof local;
    if (getsockname(c->ev.fd, (struct sockaddr *)&local, &ll) == 0) {
        env_addr_str(&local, host, sizeof host, port, sizeof port);
        env_str(e, "SERVER_ADDR", host);
        env_str(e, "SERVER_PORT", port);
    }
    /* SERVER_NAME: the host the client asked for, without its port. */
    htd_str h = htd_host_without_port(r->host);
    size_t hl = h.len;
    if (hl)
        env_add(e, "SERVER_NAME", h.p, hl);
    else
        env_str(e, "SERVER_NAME", host);

    htd_str v;
    if (r->content_length >= 0) {
        char n[24];
        snprintf(n, sizeof n, "%lld", (long long)r->content_length);
        env_str(e, "CONTENT_LENGTH", n);
    }
    if ((v = htd_request_known(r, HTD_H_CONTENT_TYPE)).p) env_add(e, "CONTENT_TYPE", v.p, v.len);
    /* What mod_ssl gives scripts on a secure connection. */
    transport_info ti;
    if (transport_get_info(c->tp, &ti) == 0) {
        env_str(e, "HTTPS", "on");
        env_str(e, "SSL_PROTOCOL", ti.protocol);
        env_str(e, "SSL_CIPHER", ti.cipher);
        if (ti.server_name) env_str(e, "SSL_TLS_SNI", ti.server_name);
    }
    if (hr->user.p) { /* a realm accepted the credentials */
        env_str(e, "AUTH_TYPE", "Basic");
        env_add(e, "REMOTE_USER", hr->user.p, hr->user.len);
    }
    /* The id the access log and the error log give the request. */
    if (hr->log_request_id) env_str(e, "REQUEST_ID", hr->log_request_id);
    env_headers(e, r->headers, r->nheaders);
    env_end(e);
}

/* ---- life ---- */

static void close_end(cgi *g, int which)
{
    cgi_end *e = &g->end[which];
    if (e->fd < 0) return;
    /* Unwatched before closing: another script being spawned may hold a
     * copy of this descriptor until its exec closes it, and while any copy
     * is open epoll keeps reporting it, for a script freed by then. */
    loop_unwatch(g->l->loop, &e->ev);
    close(e->fd);
    e->fd = -1;
}

/* The count of the server's running scripts (init). */
static atomic_uint *running(const worker *l)
{
    return registry_state(&l->srv->reg, &cgi_module);
}

/* Done with a script once it is reaped and no connection points to it. It
 * is freed after the loop's batch of events, some of which may still point
 * at its descriptors. */
static void maybe_free(cgi *g)
{
    if (g->c || !g->exited || g->dead) return;
    for (int i = 0; i < END_COUNT; i++)
        close_end(g, i);
    htd_timer_disarm(&g->timer);
    g->l->jobs_out--;
    atomic_fetch_sub(running(g->l), 1);
    site_release(g->st);
    g->st = NULL;
    g->dead = 1;
    (void)loop_later(g->l->loop, free, g); /* if even that fails, g leaks: never a use after free */
}

static void kill_script(cgi *g)
{
    if (!g->exited) kill(-g->pid, SIGKILL);
}

/* The connection lets go of the script: it is done with the response, or
 * going away. The script keeps its pidfd until it is reaped. */
static void release(conn *c, int kill_it)
{
    cgi *g = CGI_OF(c);
    if (!g) return;
    CGI_OF(c) = NULL;
    g->c = NULL;
    if (kill_it) kill_script(g);
    close_end(g, END_IN);
    close_end(g, END_OUT);
    maybe_free(g);
}

void cgi_detach(conn *c)
{
    release(c, 1);
}

/* Ends the request with an error before the script's head went out. */
static void script_failed(conn *c, int status, const char *why)
{
    cgi *g = CGI_OF(c);
    errlog_ctx(ERRLOG_ERROR, g->ctx, "htd: cgi %s: %d: %s", g->name, status, why);
    /* The worker's caches are its current site's: none for a script begun
     * under an earlier one (the script holds that site, not its caches). */
    if (g->st != c->w->site) c->req->cache = NULL;
    conn_error(c, status, why, 1);
    release(c, 1);
}

static void reap(cgi *g)
{
    int st;
    if (waitpid(g->pid, &st, WNOHANG) != g->pid) return;
    g->exited = 1;
    close_end(g, END_PID);
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        g->status = g->status ? g->status : -WEXITSTATUS(st);
    else if (WIFSIGNALED(st) && !g->head_sent)
        g->status = g->status ? g->status : -128 - WTERMSIG(st);
}

static void on_end(watcher *w, uint32_t events);

static int watch(cgi *g, int which, uint32_t events)
{
    cgi_end *e = &g->end[which];
    e->which = (uint8_t)which;
    e->g = g;
    return loop_watch(g->l->loop, &e->ev, e->fd, events, on_end);
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void start(conn *c)
{
    worker *l = c->w;
    atomic_uint *nrun = running(l);
    struct htd_req *hr = c->req;
    const htd_request *r = hr->r;
    const vhost *vh = hr->vh;
    const char *why = "";
    size_t script_len = 0;

    if (req_path_hidden(hr)) {
        conn_answer(c, 403, "dotfiles are not served", NULL, 0);
        return;
    }
    int st = vh->root_fd < 0 ? 404 : find_script(vh, hr->path, hr->path_len, &script_len, &why);
    /* A rule's script is a path the rule itself names: with "\.cgi(/|$)",
     * /photo.jpg/x.cgi must not run an executable photo.jpg (the trap of
     * PHP's cgi.fix_pathinfo). */
    const rule *ru = hr->rule;
    if (!st && ru && ru->cgi == FEAT_ON && !site_rule_covers(ru, hr->path, script_len)) {
        st = 404;
        why = "no script named";
    }
    /* The config refuses such a rule over a writable area; this holds too
     * while a reload has dropped an area that the store keeps until a
     * restart. */
    if (!st && ru && ru->cgi == FEAT_ON && store_writable(l->srv, vh->name, hr->path, script_len)) {
        st = 403;
        why = "scripts do not run in a writable area";
    }
    if (st) {
        conn_answer(c, st, why, NULL, 0);
        return;
    }
    if (budget_over(&l->mem, sizeof(cgi))) {
        conn_busy(c);
        return;
    }
    if (atomic_fetch_add(nrun, 1) >= l->srv->cfg.cgi_max) {
        atomic_fetch_sub(nrun, 1);
        static const char ra[] = "Retry-After: 1\r\n";
        conn_answer(c, 503, "too many scripts running; try again shortly", ra, sizeof ra - 1);
        return;
    }
    cgi *g = calloc(1, sizeof *g);
    if (!g) {
        atomic_fetch_sub(nrun, 1);
        conn_answer(c, 500, "out of memory", NULL, 0);
        return;
    }
    for (int i = 0; i < END_COUNT; i++)
        g->end[i].fd = -1;
    g->l = l;
    g->vh = vh;
    g->sc = hr->sc;
    g->cl_left = -1;
    g->version = r->version;
    g->method_id = r->method_id;
    snprintf(g->method, sizeof g->method, "%.*s", (int)r->method.len, r->method.p);
    snprintf(g->target, sizeof g->target, "%.*s", (int)r->target.len, r->target.p);
    snprintf(g->name, sizeof g->name, "%.*s", (int)script_len, hr->path);
    const char *rid = log_request_id(hr);
    snprintf(g->ctx, sizeof g->ctx, "#c%d%s%s", c->ev.fd, rid ? " " : "", rid ? rid : "");
    const char *base = memrchr(hr->path, '/', script_len);
    g->nph =
        base && script_len - (size_t)(base + 1 - hr->path) > 4 && memcmp(base + 1, "nph-", 4) == 0;

    char abs[4096 + REQ_PATH_MAX + 2], dir[sizeof abs];
    snprintf(abs, sizeof abs, "%s%.*s", vh->root, (int)script_len, hr->path);
    snprintf(dir, sizeof dir, "%s", abs);
    *strrchr(dir, '/') = 0;
    envb *env = malloc(sizeof *env);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (!env || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(err, O_CLOEXEC) < 0) {
        why = "cannot make pipes for the script";
        goto spawn_failed;
    }
    env->n = env->used = 0;
    env->full = 0;
    build_env(env, c, vh, script_len, abs);
    if (env->full) {
        why = "the request's header fields do not fit in the script's environment";
        goto spawn_failed;
    }

    char *argv[] = {abs, NULL};
    int rc = cgi_spawn(abs, argv, env->vars, dir, in[0], out[1], err[1], &g->pid);
    if (rc != 0) {
        why = "cannot run the script";
        errlog_ctx(ERRLOG_ERROR, g->ctx, "htd: cgi %s: cannot run %s: %s", g->name, abs,
                   strerror(rc));
        goto spawn_failed;
    }
    free(env);
    env = NULL;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    g->end[END_IN].fd = in[1];
    g->end[END_OUT].fd = out[0];
    g->end[END_ERR].fd = err[0];
    g->end[END_PID].fd = (int)syscall(SYS_pidfd_open, g->pid, 0);
    nonblock(in[1]);
    nonblock(out[0]);
    nonblock(err[0]);
    if (watch(g, END_IN, EPOLLOUT | EPOLLET) < 0 || watch(g, END_OUT, EPOLLIN | EPOLLET) < 0 ||
        watch(g, END_ERR, EPOLLIN | EPOLLET) < 0 || g->end[END_PID].fd < 0 ||
        watch(g, END_PID, EPOLLIN) < 0) {
        /* Without its events the script could never be reaped. */
        kill(-g->pid, SIGKILL);
        waitpid(g->pid, NULL, 0);
        for (int i = 0; i < END_COUNT; i++)
            close_end(g, i);
        atomic_fetch_sub(nrun, 1);
        free(g);
        conn_answer(c, 500, "cannot watch the script", NULL, 0);
        return;
    }
    g->st = site_hold(l->site);
    l->jobs_out++;
    htd_timer_arm(l->timers[T_CGI], &g->timer, l->now);

    g->c = c;
    CGI_OF(c) = g;
    htd_timer_disarm(&c->timer);
    conn_take_body(c); /* the script reads it */
    if (!conn_body_pending(c)) close_end(g, END_IN);
    hr->gen = cgi_step; /* the phases end in CS_GEN */
    return;

spawn_failed:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
    }
    free(env);
    free(g);
    atomic_fetch_sub(nrun, 1);
    conn_answer(c, 500, why, NULL, 0);
}

/* The content phase: paths under a script prefix are scripts, unless
 * their rule says otherwise; the rule is the one chosen after any rewrite. */
static int content_phase(struct htd_req *hr)
{
    if (!cgi_claims(hr->vh, hr->rule, hr->path, hr->path_len)) return MOD_DECLINED;
    start(hr->c);
    return MOD_DONE;
}

static void release_script(struct htd_req *hr)
{
    cgi_detach(hr->c);
}

/* The module's per-server state: how many scripts are running (started and
 * not yet reaped), for cgi_max. */
static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg;
    atomic_uint *n = *state = malloc(sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    atomic_init(n, 0);
    return 0;
}

unsigned cgi_running(const registry *reg)
{
    atomic_uint *n = registry_state(reg, &cgi_module);
    return n ? atomic_load_explicit(n, memory_order_relaxed) : 0;
}

const htd_module cgi_module = {
    .name = "cgi",
    .phase = {[PH_CONTENT] = content_phase},
    .init = init,
    .fini = free,
    .release = release_script,
};

/* ---- the request body to the script ---- */

/* Moves body bytes from the read buffer (and the socket) to the script.
 * -1 if the body is malformed or the client went away. */
static int feed(conn *c, cgi *g)
{
    while (g->end[END_IN].fd >= 0) {
        if (g->in_off < g->in_len) {
            ssize_t n = write(g->end[END_IN].fd, g->in + g->in_off, g->in_len - g->in_off);
            if (n < 0 && errno == EAGAIN) return 0; /* EPOLLOUT on the pipe resumes us */
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) { /* the script closed its input: the rest of the body is dropped */
                close_end(g, END_IN);
                g->in_off = g->in_len = 0;
                return 0;
            }
            g->in_off += (size_t)n;
            if (g->in_off == g->in_len) g->in_off = g->in_len = 0;
            continue;
        }
        if (!conn_body_pending(c)) {
            close_end(g, END_IN); /* end of the body: end of the script's input */
            return 0;
        }
        if (g->end[END_IN].fd < 0) return 0; /* dropped; DISCARD reads it after the response */
        if (c->rbuf && c->rpos < c->rlen) {
            size_t avail = c->rlen - c->rpos, consumed, dlen;
            if (avail > sizeof g->in)
                avail = sizeof g->in; /* decoded bytes never outnumber input */
            const char *why;
            if (conn_body_take(c, c->rbuf + c->rpos, avail, &consumed, &dlen, &why) < 0) return -1;
            memcpy(g->in, c->rbuf + c->rpos, dlen);
            g->in_len = dlen;
            g->in_off = 0;
            c->rpos += (uint32_t)consumed;
            continue;
        }
        if (!conn_can_read(c)) {
            conn_arm_body_timer(c);
            return 0;
        }
        int r = conn_fill(c);
        if (r == IO_AGAIN) {
            conn_arm_body_timer(c);
            return 0;
        }
        if (r == IO_ERROR) return -1;
    }
    return 0;
}

/* ---- the script's output to the client ---- */

/* Turns the script's header block, g->head, into a response head and
 * queues it. -1 with *why if it will not do. */
static int send_head(conn *c, cgi *g, int has_body, const char **why)
{
    char extra[2 * CGI_BUF + 64]; /* each line grows by at most ": " and CRLF: "a:\n" is 5 bytes */
    size_t xl = 0;
    const htd_response *h = &g->head;
    htd_str ctype = {NULL, 0};
    int status = h->status, location = 0;
    if (status && status < 200) {
        *why = "the script wrote a bad Status header";
        return -1;
    }
    for (size_t k = 0; k < h->nheaders; k++) {
        htd_str name = h->headers[k].name, v = h->headers[k].value;
        /* Status and Content-Length are in h; the framing and the connection are htd's. */
        if (htd_str_ieq(name, "status", 6) || response_owns_header(name)) continue;
        if (htd_str_ieq(name, "content-type", 12)) {
            ctype = v;
            continue;
        }
        if (htd_str_ieq(name, "location", 8)) location = 1;
        if (xl + name.len + 4 + v.len + 28 > sizeof extra) {
            *why = "the script's header is too large";
            return -1;
        }
        memcpy(extra + xl, name.p, name.len);
        memcpy(extra + xl + name.len, ": ", 2);
        memcpy(extra + xl + name.len + 2, v.p, v.len);
        memcpy(extra + xl + name.len + 2 + v.len, "\r\n", 2);
        xl += name.len + 4 + v.len;
    }
    /* A document (a type, or a body) is 200; only headers alone are 204. */
    if (!status) status = location ? 302 : has_body || ctype.p ? 200 : 204;
    if (!location && !ctype.p && has_body && status == 200) {
        *why = "the script sent a document without a Content-Type";
        return -1;
    }
    g->status = status;
    g->bodyless = status == 204 || status == 304 || c->head_only;
    char ct[512];
    if (ctype.p) snprintf(ct, sizeof ct, "%.*s", (int)ctype.len, ctype.p);
    resp rs = {.status = status,
               .ctype = ctype.p && !(status == 204 || status == 304) ? ct : NULL,
               .length = -1,
               .reason = h->reason.len ? h->reason.p : NULL,
               .reason_len = h->reason.len};
    int64_t cl = h->content_length;
    if (status == 204 || status == 304) {
        /* no body, no length */
    } else if (cl >= 0) {
        rs.length = cl;
        g->cl_left = cl;
    } else if (c->head_only) {
        /* the length is unknown; HEAD says nothing of it */
    } else if (g->version == 11) {
        g->chunked = 1;
        memcpy(extra + xl, "Transfer-Encoding: chunked\r\n", 28);
        xl += 28;
    } else {
        c->keep_alive = 0; /* HTTP/1.0: the end of the body is the end of the connection */
    }
    rs.extra = extra;
    rs.extra_len = xl;
    int rc = response_head(c, &rs);
    if (rc < 0) {
        *why = "the script's header is too large";
        return -1;
    }
    g->head_sent = 1;
    return 0;
}

/* Queues body bytes p[0..n) (in g->out) for the client. */
static void queue_body(conn *c, cgi *g, const char *p, size_t n)
{
    if (g->bodyless) return; /* read and dropped */
    if (g->cl_left >= 0) {
        if ((int64_t)n > g->cl_left) n = (size_t)g->cl_left; /* more than it promised: cut */
        g->cl_left -= (int64_t)n;
    }
    if (!n) return;
    conn_out_chunk(c, p, n, g->chunked, 0);
    g->sent += n;
}

/* The script's output has ended: finish the response. */
static void finish(conn *c, cgi *g)
{
    if (g->chunked) conn_out_copy(c, "0\r\n\r\n", 5);
    if ((g->cl_left > 0 && !g->bodyless) || g->nph)
        c->keep_alive = 0; /* short of its promise; or framed by close */
    conn_seal(c);
    conn_log(c, g->nph ? 200 : g->status, g->sent);
    release(c, 0);
}

/* Queues what the script has written so far (GEN_*, module.h). */
static int pump(conn *c, cgi *g)
{
    for (;;) {
        if (g->end[END_OUT].fd < 0) return GEN_WAIT;
        size_t off = g->head_sent || g->nph ? 0 : g->o_len;
        if (g->head_sent || g->nph) g->o_len = 0;
        ssize_t n = read(g->end[END_OUT].fd, g->out + off, sizeof g->out - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return GEN_WAIT;
        if (n < 0) n = 0; /* an error reads as the end */
        if (g->nph) {
            if (n == 0) {
                finish(c, g);
                return GEN_DONE;
            }
            g->head_sent = 1;
            /* The script's bytes are the whole response, its head too: a
             * HEAD request's answer is the script's business. */
            int head_only = c->head_only;
            c->head_only = 0;
            conn_out_ref(c, g->out, (size_t)n);
            c->head_only = head_only;
            g->sent += (size_t)n;
            return GEN_MORE;
        }
        if (g->head_sent) {
            if (n == 0) {
                finish(c, g);
                return GEN_DONE;
            }
            queue_body(c, g, g->out, (size_t)n);
            if (!c->out) continue; /* nothing to send (HEAD, 204): keep draining */
            return GEN_MORE;
        }
        /* Still in the header block, or between it and the first body byte. */
        g->o_len += (size_t)n;
        if (n == 0) g->eof = 1;
        const char *why;
        if (!g->h_end) {
            /* The block ends with an empty line, LF or CRLF; a block that
             * fills out without ending is too large. */
            int r = htd_parse_header_block(&g->hp, g->out, g->o_len, sizeof g->out, &g->head, &why);
            if (r < 0) {
                script_failed(c, 500, why);
                return GEN_DONE;
            }
            if (r == 0) {
                if (g->eof) {
                    if (!g->exited) return GEN_WAIT; /* its exit status says more: wait for it */
                    script_failed(c, 500,
                                  g->status < 0 ? "the script failed before its header"
                                                : "the script ended without a header");
                    return GEN_DONE;
                }
                continue;
            }
            g->h_end = (size_t)r;
        }
        /* The status may hang on whether a body follows (204 or 200). */
        int has_body = g->o_len > g->h_end;
        if (!has_body && !g->eof) continue;
        if (send_head(c, g, has_body, &why) < 0) {
            script_failed(c, 500, why);
            return GEN_DONE;
        }
        queue_body(c, g, g->out + g->h_end, g->o_len - g->h_end);
        if (g->eof) {
            finish(c, g);
            return GEN_DONE;
        }
        return GEN_MORE;
    }
}

int cgi_step(conn *c)
{
    cgi *g = CGI_OF(c);
    if (!g) return GEN_DONE; /* the script has let go: what is queued is the rest */
    /* A client that went away takes its script with it. */
    if (c->hup && !conn_body_pending(c)) {
        release(c, 1);
        conn_close(c);
        return GEN_GONE;
    }
    if (g->expired) { /* before its head: a 500 in place of the response */
        script_failed(c, 500, "the script ran past its time limit");
        return GEN_DONE;
    }
    if (feed(c, g) < 0) {
        if (!g->head_sent) {
            script_failed(c, 400, "malformed request body");
            c->keep_alive = 0;
            return GEN_DONE;
        }
        release(c, 1);
        conn_close(c);
        return GEN_GONE;
    }
    return pump(c, g);
}

/* ---- events ---- */

static void read_stderr(cgi *g)
{
    for (;;) {
        char buf[4096];
        ssize_t n = read(g->end[END_ERR].fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            if (g->err_len)
                errlog_ctx(ERRLOG_WARN, g->ctx, "htd: cgi %s: %.*s", g->name, (int)g->err_len,
                           g->err);
            g->err_len = 0;
            close_end(g, END_ERR);
            return;
        }
        /* Line by line, each prefixed, so scripts' lines never mix. */
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || g->err_len == sizeof g->err) {
                errlog_ctx(ERRLOG_WARN, g->ctx, "htd: cgi %s: %.*s", g->name, (int)g->err_len,
                           g->err);
                g->err_len = 0;
                if (buf[i] == '\n') continue;
            }
            g->err[g->err_len++] = buf[i];
        }
    }
}

static void on_end(watcher *w, uint32_t events)
{
    (void)events;
    cgi_end *e = (cgi_end *)w;
    cgi *g = e->g;
    if (g->dead || e->fd < 0) return; /* closed earlier in this batch */
    switch (e->which) {
    case END_ERR:
        read_stderr(g);
        return;
    case END_PID:
        reap(g);
        if (!g->exited) return;
        if (g->end[END_ERR].fd >= 0) read_stderr(g);
        if (g->c) {
            if (g->c->state == CS_GEN) conn_resume(g->c);
            return;
        }
        maybe_free(g);
        return;
    default:
        if (g->c && g->c->state == CS_GEN) conn_resume(g->c);
    }
}

void cgi_expired(htd_timer *t)
{
    cgi *g = (cgi *)((char *)t - offsetof(cgi, timer));
    htd_timer_disarm(&g->timer);
    errlog_ctx(ERRLOG_ERROR, g->ctx, "htd: cgi %s: killed: it ran past its time limit", g->name);
    kill_script(g);
    conn *c = g->c;
    if (!c) return;
    if (!g->head_sent) {
        /* Its step answers 500, now or once earlier responses are out. */
        g->expired = 1;
        if (c->state == CS_GEN) conn_resume(c);
    } else {
        /* Half a response is out: only closing tells the client it is cut. */
        release(c, 1);
        conn_close(c);
    }
}
