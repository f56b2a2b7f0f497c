/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * htd.h - the public interface of htd, an HTTP/1.1 origin server library.
 *
 * An embedding program fills an htd_config, creates a server, adds handlers
 * for the paths it wants to answer itself, and runs it, or drives it from an
 * event loop of its own. Everything a handler sees of a request is the
 * request's own (see "The request" below): it is valid until the handler
 * returns. Paths no handler claims are served as static files from the
 * configured root, exactly as the `htd` binary does.
 *
 * The library exports the functions below and nothing else: every exported
 * symbol starts with htd_ (scripts/symbols.sh checks build/libhtd.so and
 * build/libhtd.a), and everything inside, whatever its name, is hidden.
 */
#ifndef HTD_H
#define HTD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The version of this header. HTD_VERSION_NUM is 0xMMmmpp (0.1.0 is
 * 0x000100), for comparisons at compile time; htd_version() says which
 * library a program runs with, which may differ from the header it was
 * compiled with when the library is shared. These three lines are the
 * version's only home: the Makefile reads them for the shared library's
 * soname and htd.pc, and HTD_VERSION ("0.1.0") is spelled from them. */
#define HTD_VERSION_MAJOR 0
#define HTD_VERSION_MINOR 1
#define HTD_VERSION_PATCH 0
#define HTD_VERSION_NUM (HTD_VERSION_MAJOR << 16 | HTD_VERSION_MINOR << 8 | HTD_VERSION_PATCH)
#define HTD_STR_(x) #x
#define HTD_XSTR_(x) HTD_STR_(x)
#define HTD_VERSION                                                                                \
    HTD_XSTR_(HTD_VERSION_MAJOR) "." HTD_XSTR_(HTD_VERSION_MINOR) "." HTD_XSTR_(HTD_VERSION_PATCH)

/* Marks what the library exports; it is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define HTD_API __attribute__((visibility("default")))
#else
#define HTD_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, as HTD_VERSION was when it was built: "0.1.0". */
HTD_API const char *htd_version(void);

/* A string that is a pointer and a length; never NUL-terminated by contract. */
typedef struct htd_str {
    const char *p;
    size_t len;
} htd_str;

typedef struct htd_server htd_server;
typedef struct htd_req htd_req;

/* A handler answers with htd_respond() and returns HTD_DONE, or returns
 * HTD_DECLINED without responding to let the next handler (finally the static
 * file handler) take the request, or returns HTD_AGAIN without responding to
 * answer later, from any thread, through htd_req_resume.
 *
 * Threading: handlers run on the worker threads, several at once (one per
 * worker), each request on its connection's worker; a handler must not
 * block, for it holds up every connection of its worker. Work that takes
 * time goes to a thread of the program's, and the answer comes back with
 * htd_req_resume. */
enum { HTD_DONE = 0, HTD_DECLINED = 1, HTD_AGAIN = 2 };
typedef int (*htd_handler_fn)(htd_req *req, void *arg);

/*
 * How htd_config grows without breaking programs built against an older
 * header, or run with an older shared library:
 *  - fields are only ever added at its end, never removed, reordered or
 *    changed in type (within a major version);
 *  - every field's zero means its default, so start from a zeroed struct
 *    (`htd_config c = {.root = "www"};` or memset) and set what you need;
 *  - htd_server_new is a macro that passes sizeof(htd_config) as the program
 *    saw it to htd_server_new_sized. The library takes the fields that size
 *    covers and the defaults for the rest (a program older than the library),
 *    and refuses a config with a non-zero byte past the fields it knows (a
 *    program newer than the library, setting something it cannot honour).
 * Why a size passed by the macro, rather than a size field that
 * htd_config_init fills or setters: it costs a program nothing, not even a
 * call, so a config written as a designated initializer, as before, stays
 * right; and a program can never forget to record the size, which would
 * have made the library ignore new fields the program set. (The kernel's
 * openat2 and clone3 extend their structs the same way.) Bindings from other
 * languages, which cannot use the macro, call htd_server_new_sized with the
 * size of the struct they declare.
 */
typedef struct htd_config {
    /* A config file (libconfig syntax; see the README). Its top-level
     * settings fill the fields below that are left unset (zero or NULL), so
     * an embedding program's own values, like the binary's flags, win. */
    const char *config_file;
    const char *root;            /* document root; NULL means no static files */
    const char *const *listen;   /* "HOST:PORT", "[V6]:PORT" or "PORT" */
    size_t nlisten;              /* 0 means 127.0.0.1:8080 */
    int threads;                 /* worker threads; 0 means one per core */
    const char *access_log;      /* file path, "-" for stdout, NULL for none */
    unsigned max_requests;       /* per keep-alive connection; 0 means 1000 */
    unsigned header_timeout_ms;  /* 0 means 10000 */
    unsigned body_timeout_ms;    /* 0 means 30000 */
    unsigned idle_timeout_ms;    /* 0 means 60000 */
    unsigned send_timeout_ms;    /* 0 means 30000 */
    size_t max_body;             /* largest body a handler may receive; 0 means 1 MiB */
    const char *const *writable; /* path prefixes where PUT, POST and DELETE write */
    size_t nwritable;
    uint64_t max_upload;    /* largest document a writable area takes; 0 means 100 MiB */
    const char *const *cgi; /* path prefixes whose executable files run as CGI scripts */
    size_t ncgi;
    unsigned cgi_timeout_ms; /* a script's time limit; 0 means 30000 */
    unsigned cgi_max;        /* scripts running at once (then 503); 0 means 16 */
    int gzip;                /* compress text, JSON, JavaScript, XML and SVG files on the fly */
    int list_dirs;        /* list directories that have no index.html (HTML, or JSON on request) */
    int no_precompressed; /* do not serve FILE.br / FILE.gz for FILE to clients that take them */
    const char *const *cache_control; /* "PREFIX=VALUE": Cache-Control for paths under PREFIX */
    size_t ncache_control;
    /* The order in which the content modules are asked for a request:
     * names of "cgi", "store", "routes" (the program's handlers) and
     * "static", first those named, then the others in that order. NULL:
     * that order. Scripts must come before static files, or a script's
     * file would be sent as it is: an order that puts "static" before "cgi"
     * is refused. */
    const char *const *content_order;
    size_t ncontent_order;
    /* Connections open at once, over every worker; a new one beyond it is
     * closed as it is accepted, before anything is read. 0 means no cap but
     * the descriptor limit. */
    unsigned max_conns;
    /* Connections open at once from one client address (IPv6: from one
     * prefix of ipv6_prefix bits); beyond it, as max_conns. 0 means none. */
    unsigned max_conns_per_ip;
    unsigned ipv6_prefix; /* 1 to 128; 0 means 64 */
    /* Bytes per second a request body must average over each window of
     * min_body_window_ms as it arrives, or it is cut with 408: a client
     * that trickles cannot hold a connection, a buffer and a temporary file
     * for the whole body timeout again and again. 0 means no minimum. */
    unsigned min_body_rate;
    unsigned min_body_window_ms; /* 0 means 10000 */
    /* Bytes that requests may hold at once (buffers, bodies, uploads,
     * compressors, cached file contents), split evenly between the workers;
     * beyond it, new requests get 503 with Retry-After while those under
     * way finish. 0 means no budget. */
    uint64_t memory_budget;
    /* Proxies whose word on the client is taken: addresses or CIDRs. A
     * request from one of them has its client taken from real_ip_header,
     * the right-most address there that is not itself a trusted proxy; a
     * request from anyone else keeps its peer. */
    const char *const *trusted_proxies;
    size_t ntrusted_proxies;
    const char *real_ip_header; /* "X-Forwarded-For" (NULL) or "Forwarded" */
    /* The buckets the config file's rate limits keep, over every worker: a
     * fixed table of 8 bytes each, 64 to 16777216; 0 means 65536. */
    unsigned rate_limit_slots;
    /* Job queues (202 Accepted; the README's "Queues"): "PREFIX=COMMAND",
     * each a queue whose POSTs and PUTs under PREFIX are stored durably,
     * answered 202 with a status monitor, and run later by COMMAND, as a
     * CGI script is run. The config file's queues take every setting. */
    const char *const *queues;
    size_t nqueues;
    /* The state database (SQLite: the queues' jobs, later the ledger): NULL
     * means htd-state.db beside the config file, or in the current directory
     * when there is none. */
    const char *state_db;
    /* Where the status monitors are: "/.jobs/" when NULL. */
    const char *jobs_path;
    /* 1: every accepted job is a transaction (and an fsync) of its own,
     * rather than one shared by the requests that arrive together. For
     * measuring what group commit saves; slower. */
    int queue_no_group_commit;
    /* Reverse proxy: "PREFIX=http://HOST:PORT", each sending the requests
     * under PREFIX to that server (the config's upstreams take every
     * setting). */
    const char *const *proxies;
    size_t nproxies;
    /* For the htd program (the library does not act on them): the file it
     * writes its pid to, the user (and ":group") it runs as once its ports,
     * logs and state are open, and whether scripts may run as root. */
    const char *pid_file;
    const char *user;
    int scripts_as_root;
    /* TLS (HTTPS). A listen address followed by " tls" ("0.0.0.0:443 tls")
     * speaks TLS 1.2 and 1.3 with ALPN http/1.1. The top-level server's
     * certificates: tls_cert[i] (a PEM chain, the leaf first) with the
     * private key tls_key[i]; several, one ECDSA and one RSA say, and each
     * client gets one it supports. The config file's tls groups give the
     * vhosts theirs, chosen by the name the client asks for (SNI). */
    const char *const *tls_cert;
    const char *const *tls_key;
    size_t ntls_certs;
    const char *tls_ciphers;       /* TLS 1.2, OpenSSL's syntax; NULL: Mozilla intermediate */
    const char *tls_ciphersuites;  /* TLS 1.3; NULL: OpenSSL's default */
    unsigned tls_ticket_rotate_ms; /* session ticket keys replaced this often; 0 means 1 hour */
    int tls_no_ktls;      /* file bodies by read and SSL_write even where kernel TLS exists */
    int tls_key_readable; /* take private key files that group or others may read */
    /* The error log (the process's: the last server made with one sets
     * it): a file, or "stderr" (the default, as NULL); and the most
     * detailed level it keeps: "error", "warn", "notice" (the default),
     * "info" or "debug". */
    const char *error_log;
    const char *error_log_level;
    /* WebDAV (RFC 4918) on the writable areas: PROPFIND, PROPPATCH, MKCOL,
     * COPY, MOVE and a DELETE of whole collections, with dead properties in
     * the state database; and, as WebDAV wants, a PUT whose parent is
     * missing is 409 rather than making it. webdav_infinity_max: the most
     * resources a PROPFIND with Depth: infinity may list (beyond, 403); 0
     * refuses every such PROPFIND, as Apache does by default. */
    int webdav;
    unsigned webdav_infinity_max;
    /* Compress the same files as gzip with brotli on the fly, for clients
     * that prefer it (Content-Encoding: br). */
    int brotli;
} htd_config;

/* Creates a server: loads MIME types, opens the root and binds every listen
 * address. On failure returns NULL and writes one line naming the problem to
 * err. cfg_size is the size of the caller's htd_config (see above). */
HTD_API htd_server *htd_server_new_sized(const htd_config *cfg, size_t cfg_size, char *err,
                                         size_t errlen);
#define htd_server_new(cfg, err, errlen)                                                           \
    htd_server_new_sized((cfg), sizeof(htd_config), (err), (errlen))

/* Routes requests whose decoded, normalised path is under prefix to fn, by
 * whole segments: "/hello" takes /hello, /hello/ and /hello/x, never
 * /helloworld; a prefix ending in '/' takes what starts with it ("/api/"
 * takes /api/x, not /api); "" and "/" take every path. Handlers whose prefix
 * matches are tried in the order they were added. Call before
 * htd_server_run or htd_server_start. */
HTD_API int htd_server_handle(htd_server *s, const char *prefix, htd_handler_fn fn, void *arg);

/* The phases a handler runs in. HTD_PHASE_CONTENT is htd_server_handle's:
 * the handler answers the request. HTD_PHASE_ACCESS runs before any
 * content, after the vhost's and rule's own checks (addresses, passwords,
 * redirects): the handler refuses the request by answering it (401, 402,
 * 403, ...) and returning HTD_DONE, or lets it go on with HTD_DECLINED. An
 * access handler that returns HTD_AGAIN decides later: the function given
 * to htd_req_resume answers to refuse, or answers nothing to let the
 * request go on. */
enum { HTD_PHASE_ACCESS = 1, HTD_PHASE_CONTENT = 2 };
/* Or'ed into HTD_PHASE_CONTENT: the handler is called before the request
 * body is read, and takes it as it comes with htd_req_read_body (no
 * max_body then: the handler decides what is too much). */
enum { HTD_BODY_STREAMED = 0x100 };
/* As htd_server_handle, in the phase given. 0, or -1 (out of memory, or no
 * such phase). */
HTD_API int htd_server_handle_phase(htd_server *s, int phase, const char *prefix, htd_handler_fn fn,
                                    void *arg);

/* The actual address of listener i (after binding port 0), as "HOST:PORT". */
HTD_API const char *htd_server_address(const htd_server *s, size_t i);
/* The scheme listener i serves: "https" for a TLS listener, else "http";
 * NULL past the last. */
HTD_API const char *htd_server_scheme(const htd_server *s, size_t i);

/* The document root of the top-level server, as configured ("" if none). */
HTD_API const char *htd_server_root(const htd_server *s);
/* The settings the server runs with: the program's, with the config file's
 * top-level settings where the program left them unset, and the defaults
 * filled in. Valid until htd_server_free. */
HTD_API const htd_config *htd_server_config(const htd_server *s);
/* Whether s's current site runs programs: CGI scripts, or queues with a
 * command. (The htd program refuses to start them as root.) */
HTD_API int htd_server_runs_scripts(htd_server *s);

/*
 * Threads. A server has `threads` workers, each with its own event loop,
 * listening sockets and connections; the kernel spreads new connections
 * over them. Worker 0 runs on the program's thread, inside htd_server_run or
 * htd_server_run_once; workers 1..threads-1 run on threads htd starts, with
 * every signal blocked. A handler runs on the thread of the worker that holds
 * the connection: with threads > 1 handlers run on several threads at once,
 * so what they share needs atomics or a lock; with threads = 1 every handler
 * runs on the program's thread.
 */

/* Runs the workers until htd_server_stop and the graceful drain: worker 0 on
 * the calling thread, the others on threads of their own. 0 on a clean stop,
 * -1 if a thread could not be started. */
HTD_API int htd_server_run(htd_server *s);

/*
 * Or the program drives worker 0 from an event loop of its own
 * (examples/ownloop.c):
 *
 *     htd_server_start(s);
 *     do
 *         wait until htd_server_fd(s) is readable, at most htd_server_timeout(s)
 *         milliseconds, along with the program's own descriptors (poll, epoll),
 *         and handle the program's events;
 *     while (htd_server_run_once(s) > 0);
 *     htd_server_free(s);
 *
 * htd_server_run_once never waits, and costs little when nothing is ready:
 * calling it on every wake of the program's loop is simplest. It must be
 * called when the descriptor is readable and when the timeout has passed:
 * worker 0's connections, timeouts and access-log lines wait for it, and
 * after htd_server_stop so does the end of the server. Call
 * htd_server_timeout and htd_server_run_once from one thread at a time, the
 * thread of the program's loop, where worker 0's handlers then run;
 * htd_server_fd from any thread.
 */

/* Starts workers 1..threads-1 on threads of their own, as htd_server_run
 * does, and returns at once, leaving worker 0 to htd_server_run_once. 0, or
 * -1 with errno: EINVAL if the server was started before; an error of
 * pthread_create, after the threads it did start were stopped and joined. */
HTD_API int htd_server_start(htd_server *s);

/* A descriptor that is readable when worker 0 has work; only watch it (never
 * read or close it). The same from htd_server_new to htd_server_free. */
HTD_API int htd_server_fd(const htd_server *s);

/* How long the program may wait for the descriptor, in milliseconds from
 * now, before calling htd_server_run_once anyway; -1 for no limit. It covers
 * worker 0's timers (connection and script timeouts), the access logs'
 * flush once a second and the end of a pause in accepting when descriptors
 * ran out. Ask again before each wait: every turn changes it. */
HTD_API int htd_server_timeout(const htd_server *s);

/* One turn of worker 0 without waiting: it accepts, reads, runs handlers,
 * writes and expires timers for what is ready. 1 while the server runs; 0
 * once it has stopped, after htd_server_stop and once every worker's
 * connections have finished (the other threads are joined by then), and on
 * every call after; -1 with errno EINVAL before htd_server_start, or with
 * the error of worker 0's loop if it failed (the server is stopped and
 * joined then, as for 0). */
HTD_API int htd_server_run_once(htd_server *s);

/* Has worker 0's loop take the signals of set (which the program blocks in
 * every thread before htd_server_new, so that none is delivered another
 * way) from a signalfd and call fn(s, signo, arg) for each, on the thread
 * that runs worker 0, between its events: there fn may call anything,
 * htd_server_reload included. The htd program takes SIGTERM, SIGINT,
 * SIGHUP and SIGUSR1 so, and needs no thread of its own for them. Before
 * htd_server_start or htd_server_run, once. 0, or -1 with errno. */
HTD_API int htd_server_signals(htd_server *s, const sigset_t *set,
                               void (*fn)(htd_server *s, int signo, void *arg), void *arg);

/* Asks the server to stop gracefully: stop accepting, finish responses in
 * flight, close idle connections. Async-signal-safe, from any thread. */
HTD_API void htd_server_stop(htd_server *s);

/* Before htd_server_start or htd_server_run, or once htd_server_run has
 * returned, htd_server_run_once has returned 0 or -1, or htd_server_start
 * has failed. */
HTD_API void htd_server_free(htd_server *s);

/* Reads the config file again and, if it is good, serves new requests with
 * its virtual hosts, rules, roots and logs, while requests already begun
 * finish under the old ones. If it is bad, nothing changes and err says why
 * ("FILE:LINE: what"). Settings read only at start (listen, threads,
 * timeouts, limits, writable areas) keep their values; notes on any that
 * changed are written to stderr. Not async-signal-safe: call it from a
 * thread, not from a signal handler. 0 or -1. */
HTD_API int htd_server_reload(htd_server *s, char *err, size_t errlen);

/* Opens every access log again, for log rotation. Not async-signal-safe. */
HTD_API void htd_server_reopen_logs(htd_server *s);

/* Hands the server over to a new program without refusing or cutting a
 * connection (the htd program does it on SIGUSR2, as nginx upgrades its
 * binary): runs path with argv, giving it the listening sockets as socket
 * activation does (LISTEN_FDS), and serves beside it until it serves too;
 * then this server stops as by htd_server_stop, its connections finishing.
 * If the program ends before it serves, this server goes on alone and says
 * so on stderr. The new program is an htd server (a program of this
 * library) that takes the sockets at htd_server_new and says it serves at
 * htd_server_start. From the thread that runs worker 0 (the signal
 * callback of htd_server_signals), while the server runs. The new
 * process's pid, or -1 with the reason in err. */
HTD_API pid_t htd_server_upgrade(htd_server *s, const char *path, char *const argv[], char *err,
                                 size_t errlen);

/* Checks a config file as htd_server_new would (roots, logs, password files,
 * regexes) without listening. 0, or -1 with "FILE:LINE: what" in err.
 * Warnings, which do not fail it (a regex that another dialect reads
 * otherwise), go to standard error, "htd: FILE:LINE: warning: what". */
HTD_API int htd_config_check(const char *file, char *err, size_t errlen);

/*
 * The request. A handler calls these on the request it was given, on the
 * thread it runs on: a request belongs to its worker, and nothing here
 * locks. What they return points into the request's own memory (the head
 * is copied there when it is parsed), which lasts until the request ends:
 * until the handler returns, whether it answered or declined, or, for a
 * handler that returned HTD_AGAIN, until the function given to
 * htd_req_resume returns (it is called on the same thread). Keep nothing
 * past that; copy what must outlive it.
 */
HTD_API htd_str htd_req_method(const htd_req *r);
/* The HTTP version as a number: 11 for HTTP/1.1 (and a later HTTP/1.x,
 * which is served as 1.1), 10 for HTTP/1.0, 9 for a one-line HTTP/0.9
 * request. */
HTD_API int htd_req_version(const htd_req *r);
/* The request-target as sent, still percent-encoded and with its query:
 * "/a%20b?x=1", an absolute-form "http://example.com/a", or "*". */
HTD_API htd_str htd_req_target(const htd_req *r);
HTD_API htd_str htd_req_path(const htd_req *r);  /* decoded and normalised, starts with '/' */
HTD_API htd_str htd_req_query(const htd_req *r); /* raw, without '?'; empty if none */
/* The host the request names, as sent, with its port if it has one
 * ("Example.com:8080"): the host of an absolute-form target, else the Host
 * field; empty if none (HTTP/1.0 and 0.9 may leave it out). */
HTD_API htd_str htd_req_host(const htd_req *r);
/* The virtual host serving the request, chosen by that host: the first of
 * its names in the config file, as written there ("example.com",
 * "*.example.org"); empty for the top-level server. */
HTD_API htd_str htd_req_vhost(const htd_req *r);
/* The client's address as accept() gave it, port and all: a struct
 * sockaddr_in or sockaddr_in6 (by its sa_family), its size in *len unless
 * len is NULL. NULL, and a size of 0, for a request that came over no
 * socket. */
HTD_API const struct sockaddr *htd_req_peer(const htd_req *r, socklen_t *len);
/* The client's IP address as text, without the port ("192.0.2.7",
 * "2001:db8::1"), written into the request's memory by each call; empty for
 * a request with no peer, or when out of memory. */
HTD_API htd_str htd_req_peer_addr(htd_req *r);
HTD_API htd_str htd_req_body(const htd_req *r); /* the whole body, read before the handler runs */
/* A request header by case-insensitive name: the value of the first field
 * of that name; {NULL, 0} if absent. */
HTD_API htd_str htd_req_header(const htd_req *r, const char *name);
/* Header field i of the request, counting from 0 in the order they were
 * sent: its name as sent (in whatever case) in *name, its value without
 * the whitespace around it in *value (either pointer may be NULL). A field
 * sent several times appears as many times, never joined. 0, or -1 past
 * the last field, leaving *name and *value alone:
 *     for (size_t i = 0; htd_req_header_at(r, i, &name, &value) == 0; i++) */
HTD_API int htd_req_header_at(const htd_req *r, size_t i, htd_str *name, htd_str *value);

/* n bytes of the request's memory, aligned for any type: for what a
 * handler builds while it runs (a body, a header value). Never freed alone:
 * all of it goes when the request ends. NULL when out of memory. */
HTD_API void *htd_req_alloc(htd_req *r, size_t n);
/* A copy of s with a NUL after it, in the request's memory: a slice made a
 * C string, as htd_resp_header wants. NULL when out of memory. */
HTD_API char *htd_req_strdup(htd_req *r, htd_str s);

/* Adds a response header before htd_respond. Returns -1 if there is no room,
 * if name or value is malformed, or for a header htd writes itself or that
 * frames the message (Content-Length, Transfer-Encoding, Connection, Date,
 * Server, Keep-Alive, Upgrade, Trailer). */
HTD_API int htd_resp_header(htd_req *r, const char *name, const char *value);

/* Sends the response: status, optional content type, and a body that is
 * copied, so it may live on the caller's stack. Returns 0 or -1. */
HTD_API int htd_respond(htd_req *r, int status, const char *content_type, const void *body,
                        size_t len);

/* A response whose body comes piece by piece. Sends the head (its body
 * chunked to an HTTP/1.1 client, ended by closing the connection for an
 * HTTP/1.0 one), then calls next(req, arg) on the request's worker each
 * time what was written so far has been sent: next writes with
 * htd_stream_write (any number of times; copied) and returns HTD_MORE to be
 * called again, having written something, or HTD_DONE once the body is
 * whole. end(arg), if not NULL, is called once when the stream is over,
 * whole or cut short by a client that went. The request lasts until then.
 * HEAD gets the head alone (next is never called). 0, or -1 (nothing is
 * sent; end is not called). */
enum { HTD_MORE = 3 };
HTD_API int htd_respond_stream(htd_req *r, int status, const char *content_type,
                               int (*next)(htd_req *r, void *arg), void (*end)(void *arg),
                               void *arg);
HTD_API int htd_stream_write(htd_req *r, const void *p, size_t len);

/* For a handler registered with HTD_BODY_STREAMED: the request body as it
 * arrives (de-chunked). on_data(req, p, len, arg) runs on the worker for
 * each piece, and once with (NULL, 0) at its end, where the handler answers
 * (unanswered: 500); it may answer earlier, and the rest of the body is then
 * read and dropped. end(arg), if not NULL, is called once when it is over,
 * answered or cut short by a client that went. A client that waits for
 * 100 Continue gets it now. Call it from the handler, then return HTD_DONE.
 * 0, or -1 (the request has no body to read this way). */
HTD_API int htd_req_read_body(htd_req *r,
                              void (*on_data)(htd_req *r, const char *p, size_t len, void *arg),
                              void (*end)(void *arg), void *arg);

/* A response whose body is len bytes of the open file fd from off, sent
 * with sendfile. htd owns fd from the call on: it is closed once sent, when
 * the client goes, or at once on failure. 0, or -1. */
HTD_API int htd_respond_file(htd_req *r, int status, const char *content_type, int fd, uint64_t off,
                             uint64_t len);

/* For a request whose handler returned HTD_AGAIN: from any thread, once per
 * HTD_AGAIN, has fn(req, arg) run on the request's worker thread, where fn
 * answers with htd_respond (a content handler's request that fn leaves
 * unanswered gets a 500; an access handler's goes on). fn runs even
 * when the client has gone meanwhile, so that it can let go of arg; then
 * htd_respond returns -1. After fn returns, nothing of req may be used. A
 * suspended request waits at most the send timeout (--send-timeout) for its
 * answer; its connection is closed then, and fn still runs when it comes.
 * Until then a graceful stop waits for it. Only for a request whose handler
 * returned (or is about to return) HTD_AGAIN. 0, or -1 if it was resumed
 * already. */
HTD_API int htd_req_resume(htd_req *req, void (*fn)(htd_req *req, void *arg), void *arg);

/*
 * Job processors. A queue (htd_config.queues, or the config file's) runs
 * its jobs with a command, or with a handler the program registers here.
 * A handler runs on one of the queue's processor threads (`workers` of
 * them, 2 by default), never on a worker thread: it may block, for as long
 * as the job takes, and several run at once (one per processor thread), so
 * what they share needs a lock. The htd_job functions are called on the
 * thread the handler runs on, while it runs; what they return lasts until
 * it returns.
 *
 * The handler answers with htd_job_result. A 2xx result is the job done,
 * and kept as its result; any other status, or no result, is a failed
 * attempt: retried with backoff until the queue's attempts are spent, then
 * failed. Delivery is at least once: a job whose process was killed while
 * it ran is run again when htd starts next, so a handler must be safe to
 * run twice for one job (examples/queue.c).
 */
typedef struct htd_job htd_job;
typedef void (*htd_job_fn)(htd_job *job, void *arg);

/* Has fn process the jobs of the queue at prefix: one the config names
 * (without a command), or else a new one with the default settings. Before
 * htd_server_start or htd_server_run. 0, or -1 (a queue with a command
 * there, the server started, or out of memory). */
HTD_API int htd_server_queue(htd_server *s, const char *prefix, htd_job_fn fn, void *arg);

HTD_API htd_str htd_job_id(const htd_job *j);    /* 22 URL-safe characters */
HTD_API htd_str htd_job_queue(const htd_job *j); /* the queue's name */
HTD_API htd_str htd_job_method(const htd_job *j);
HTD_API htd_str htd_job_target(const htd_job *j); /* as sent, with its query */
HTD_API htd_str htd_job_body(const htd_job *j);
HTD_API htd_str htd_job_client(const htd_job *j); /* the client's IP address, as text */
/* A header of the stored request by case-insensitive name, as
 * htd_req_header: {NULL, 0} if absent. */
HTD_API htd_str htd_job_header(const htd_job *j, const char *name);
/* This attempt's number: 1 the first time, more on a retry or after a
 * crash. */
HTD_API int htd_job_attempt(const htd_job *j);
/* The job's outcome: status, type (or NULL) and body, copied. 0, or -1 if
 * the body is over the queue's max_result. The last call wins. */
HTD_API int htd_job_result(htd_job *j, int status, const char *content_type, const void *body,
                           size_t len);

#ifdef __cplusplus
}
#endif

#endif
