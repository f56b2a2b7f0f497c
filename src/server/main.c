/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main.c - the htd program: command-line flags onto an htd_config, signals
 * onto the server (SIGTERM and SIGINT stop, SIGHUP reloads the config,
 * SIGUSR1 reopens the logs, SIGUSR2 hands the sockets to the program as it
 * is on disk now: an upgrade). Everything else is the library.
 *
 * Signals are read from a signalfd by the loop of worker 0, which runs on
 * the program's thread (htd_server_signals), not taken by handlers.
 */
#include <brotli/encode.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libconfig.h>
#include <libdeflate.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "errlog.h"
#include "htd.h"
#include "jobs_cli.h"
#include "ledger_cli.h"
#include "store.h"

static htd_server *server;
static const char *config_path;
/* For an upgrade: this program's path, made absolute at start (the file
 * there may be a new build by the time it is asked for), and its
 * arguments as given (getopt reorders argv). */
static char self[4096];
static char **self_argv;

/* On worker 0's thread, between its events (htd_server_signals): a reload
 * reads files and allocates, which no signal handler may do. */
static void on_signal(htd_server *s, int sig, void *arg)
{
    (void)arg;
    if (sig == SIGHUP) {
        char err[512];
        if (htd_server_reload(s, err, sizeof err) == 0)
            errlog(ERRLOG_NOTICE, "htd: reloaded %s", config_path);
        else
            errlog(ERRLOG_ERROR, "htd: reload failed: %s; still serving the previous configuration",
                   err);
    } else if (sig == SIGUSR1) {
        htd_server_reopen_logs(s);
    } else if (sig == SIGUSR2) {
        char err[512];
        pid_t pid = htd_server_upgrade(s, self, self_argv, err, sizeof err);
        if (pid > 0)
            errlog(ERRLOG_NOTICE, "htd: upgrade: started %s as process %ld", self, (long)pid);
        else
            errlog(ERRLOG_ERROR, "htd: upgrade failed: %s; still serving", err);
    } else {
        htd_server_stop(s);
    }
}

static void usage(FILE *f)
{
    fputs("usage: htd [--config FILE] [--root DIR] [--listen HOST:PORT]... [--threads N] [...] "
          "[DIR]\n"
          "       htd --check-config FILE\n"
          "       htd jobs COMMAND ...   the job queues' database (see htd jobs --help)\n"
          "       htd ledger COMMAND ... the accounts of metered paths (see htd ledger --help)\n"
          "\n"
          "Serves the files under DIR (default: the current directory) over HTTP/1.1;\n"
          "DIR may be given alone, as the last argument, or with --root.\n"
          "\n"
          "  -c, --config FILE      read settings, virtual hosts and rules from FILE;\n"
          "                         the flags below override its top-level settings\n"
          "      --check-config FILE  check FILE and exit: 0 if good, 2 with FILE:LINE if not\n"
          "  -r, --root DIR         document root (default: .)\n"
          "  -l, --listen ADDR      HOST:PORT, [IPV6]:PORT, or PORT for every interface;\n"
          "                         repeatable (default: 127.0.0.1:8080; port 0 picks one)\n"
          "  -t, --threads N        worker threads, each with its own event loop\n"
          "                         (default: one per CPU core)\n"
          "      --access-log FILE  Combined Log Format access log; - for stdout\n"
          "      --error-log FILE   the error log (default: stderr)\n"
          "      --error-log-level LEVEL  error, warn, notice (default), info or debug\n"
          "      --header-timeout S seconds to receive a request head (default 10)\n"
          "      --body-timeout S   seconds between reads of a request body (default 30)\n"
          "      --idle-timeout S   seconds a keep-alive connection may idle (default 60)\n"
          "      --send-timeout S   seconds between writes of a response (default 30)\n"
          "      --max-requests N   requests per keep-alive connection (default 1000)\n"
          "      --writable PREFIX[:SIZE[:QUOTA]]  let PUT, POST and DELETE write under\n"
          "                         PREFIX, documents up to SIZE (default --max-upload), all\n"
          "                         of them up to QUOTA (PREFIX::QUOTA: a quota alone; 507\n"
          "                         past it); repeatable\n"
          "      --max-upload SIZE  largest document a PUT or POST may write (default 100M)\n"
          "      --webdav           the writable areas speak WebDAV (PROPFIND, MKCOL, COPY,\n"
          "                         MOVE, PROPPATCH); webdav = true; in the config\n"
          "      --cache-control PREFIX=VALUE  send Cache-Control: VALUE for paths under PREFIX;\n"
          "                         repeatable (the config's cache_control per vhost and\n"
          "                         rule wins over it)\n"
          "      --gzip             compress text, JSON, JavaScript, XML and SVG files on the fly\n"
          "      --brotli           the same with brotli, for clients that take it\n"
          "      --list-dirs        list directories without index.html (HTML; JSON if asked for)\n"
          "      --no-precompressed don't serve FILE.br or FILE.gz for FILE to clients that accept "
          "them\n"
          "      --cgi PREFIX       run executable files under PREFIX as CGI/1.1 scripts; "
          "repeatable\n"
          "      --cgi-timeout S    a script's time limit, then it is killed (default 30)\n"
          "      --cgi-max N        scripts running at once; more get 503 (default 16)\n"
          "      --max-conns N      connections open at once; more are closed as they come\n"
          "                         (default: no cap but the descriptor limit)\n"
          "      --max-conns-per-ip N  connections open at once from one address (an IPv6\n"
          "                         client: one --ipv6-prefix); more are closed as they come\n"
          "      --ipv6-prefix BITS IPv6 addresses that count as one client (default 64)\n"
          "      --min-body-rate N  bytes per second a request body must average over each\n"
          "                         --min-body-window, or it is cut with 408 (default: none)\n"
          "      --min-body-window S  seconds over which --min-body-rate is judged (default 10)\n"
          "      --trusted-proxy CIDR  take the client's address from X-Forwarded-For on\n"
          "                         requests from these proxies; repeatable\n"
          "      --real-ip-header NAME  X-Forwarded-For (default) or Forwarded\n"
          "      --memory-budget SIZE  memory requests may hold at once (buffers, bodies,\n"
          "                         uploads, compressors, cached files); beyond it new\n"
          "                         requests get 503 (default: none)\n"
          "      --queue PREFIX=COMMAND  accept POST and PUT under PREFIX as jobs (202 with a\n"
          "                         status monitor), run later by COMMAND as a CGI script;\n"
          "                         repeatable (the config's queues take every setting)\n"
          "      --state-db FILE    the SQLite database of jobs (default: htd-state.db beside\n"
          "                         the config, or in the current directory)\n"
          "      --jobs-path PATH   where the status monitors are (default /.jobs/)\n"
          "      --no-group-commit  one transaction and fsync per accepted job (benchmarks)\n"
          "      --proxy PREFIX=http://HOST:PORT  send the requests under PREFIX to that\n"
          "                         server (a reverse proxy); repeatable (the config's\n"
          "                         upstreams take every setting)\n"
          "      --tls-listen ADDR  listen for HTTPS (TLS 1.2 and 1.3) on ADDR, as --listen;\n"
          "                         repeatable; needs --cert and --key\n"
          "      --cert FILE        the certificate chain (PEM) of HTTPS listeners; repeatable,\n"
          "                         each with its --key (one ECDSA and one RSA, say)\n"
          "      --key FILE         the private key of the --cert before it; refused if group\n"
          "                         or others may read it (unless --tls-key-readable)\n"
          "      --tls-ciphers LIST TLS 1.2 ciphers, OpenSSL's syntax (default: Mozilla\n"
          "                         intermediate)\n"
          "      --tls-ciphersuites LIST  TLS 1.3 cipher suites (default: OpenSSL's)\n"
          "      --tls-ticket-rotate S  seconds between new session ticket keys (default 3600)\n"
          "      --no-ktls          send files by read and SSL_write, never kernel TLS\n"
          "      --tls-key-readable take private keys that group or others may read\n"
          "      --pid-file FILE    write the process id to FILE (removed at exit)\n"
          "      --user USER[:GROUP]  run as USER (and GROUP, else USER's) once the ports,\n"
          "                         logs and state are open (started as root)\n"
          "      --scripts-as-root  let CGI scripts and queue commands run as root\n"
          "                         (refused by default)\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version, the commit and the libraries'\n",
          f);
}

static void die(const char *fmt, const char *a, const char *b)
{
    fputs("htd: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(2);
}

/* The version, the commit it was built from, and the libraries it runs
 * with (as loaded, where they can say). */
static void print_version(void)
{
    printf("htd %s (commit %s)\n", HTD_VERSION, HTD_COMMIT);
    printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("  zlib %s, SQLite %s, libconfig %d.%d.%d\n", zlibVersion(), sqlite3_libversion(),
           LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
    /* libdeflate and libxml2 say only the version built against. */
    char pcre[32] = "?";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    uint32_t br = BrotliEncoderVersion(); /* major << 24 | minor << 12 | patch */
    printf("  libdeflate %s, brotli %u.%u.%u, PCRE2 %s, libxml2 %s\n", LIBDEFLATE_VERSION_STRING,
           br >> 24, (br >> 12) & 0xfff, br & 0xfff, pcre, LIBXML_DOTTED_VERSION);
}

/* Runs as spec, "USER" or "USER:GROUP", from now on: the group (USER's
 * own unless named), USER's supplementary groups, then the user, so that
 * nothing of root is left. 0, or -1 with why in err. */
/* USER or USER:GROUP: the user's name into name, its uid and the gid (the
 * group's, else the user's own). 0, or -1 with why. */
static int user_ids(const char *spec, char *name, size_t cap, uid_t *uid, gid_t *gid, char *err,
                    size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0 || n >= cap) {
        snprintf(err, errlen, "expected USER or USER:GROUP");
        return -1;
    }
    memcpy(name, spec, n);
    name[n] = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(err, errlen, "no such user");
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (colon) {
        struct group *gr = getgrnam(colon + 1);
        if (!gr) {
            snprintf(err, errlen, "no such group '%s'", colon + 1);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

static int become(const char *spec, char *err, size_t errlen)
{
    char name[256];
    uid_t uid;
    gid_t gid;
    if (user_ids(spec, name, sizeof name, &uid, &gid, err, errlen) < 0) return -1;
    if (getuid() == uid && geteuid() == uid) return 0; /* already */
    if (initgroups(name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(err, errlen, "cannot change to it: %s (htd must start as root to)",
                 strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* must fail now */
        snprintf(err, errlen, "root could be taken back");
        return -1;
    }
    return 0;
}

/* Writes the process id to path (made anew, or rewritten by a process that
 * may not make files there: an upgrade's, as the user). Made as root for
 * a user (user not NULL), it is given to the user, who rewrites it on an
 * upgrade and empties it at exit. 0, or -1 with why. */
static int write_pid(const char *path, const char *user, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write it: %s", strerror(errno));
        return -1;
    }
    char b[32], name[256];
    uid_t uid;
    gid_t gid;
    if (user && geteuid() == 0 && user_ids(user, name, sizeof name, &uid, &gid, err, errlen) == 0)
        (void)!fchown(fd, uid, gid);
    int n = snprintf(b, sizeof b, "%ld\n", (long)getpid());
    int ok = write(fd, b, (size_t)n) == n;
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "cannot write it: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Removes path if it still holds this process's id: after an upgrade it
 * is the new process's. */
static void remove_pid(const char *path)
{
    char b[32], mine[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    snprintf(mine, sizeof mine, "%ld\n", (long)getpid());
    if (n <= 0 || (b[n] = 0, strcmp(b, mine) != 0)) return;
    /* Given up root, htd may not remove it from a directory of root's:
     * emptied, it names no process. */
    if (unlink(path) < 0 && (fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)) >= 0) close(fd);
}

/* A whole number from 1 to max. */
static long parse_count(const char *flag, const char *v, long max)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > max) {
        fprintf(stderr, "htd: %s: expected a number from 1 to %ld, got '%s'\n", flag, max, v);
        exit(2);
    }
    return n;
}

/* Seconds, fractions allowed, as milliseconds from 1 ms to a day. */
static unsigned parse_seconds(const char *flag, const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= 0.001 && d <= 86400))
        die("%s: expected seconds from 0.001 to 86400, got '%s'", flag, v);
    return (unsigned)(d * 1000 + 0.5);
}

/* argv0 as an absolute path: as given if it has a slash (against the
 * working directory if relative), else the first match on $PATH. */
static void find_self(const char *argv0)
{
    char cwd[2048];
    if (strchr(argv0, '/')) {
        if (argv0[0] == '/' || !getcwd(cwd, sizeof cwd))
            snprintf(self, sizeof self, "%s", argv0);
        else
            snprintf(self, sizeof self, "%s/%s", cwd, argv0);
        return;
    }
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(self, sizeof self, "%.*s/%s", (int)n, p, argv0);
        if (n && access(self, X_OK) == 0) return;
        p += n + (p[n] == ':');
    }
    snprintf(self, sizeof self, "%s", argv0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "jobs") == 0) return jobs_cli(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ledger") == 0) return ledger_cli(argc - 1, argv + 1);
    find_self(argv[0]);
    self_argv = malloc(((size_t)argc + 1) * sizeof *self_argv);
    if (!self_argv) die("%s%s", "out of memory", "");
    memcpy(self_argv, argv, ((size_t)argc + 1) * sizeof *argv);
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"access-log", required_argument, NULL, 'a'},
        {"error-log", required_argument, NULL, 1200},
        {"error-log-level", required_argument, NULL, 1201},
        {"header-timeout", required_argument, NULL, 'H'},
        {"body-timeout", required_argument, NULL, 'B'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"send-timeout", required_argument, NULL, 'S'},
        {"max-requests", required_argument, NULL, 'm'},
        {"writable", required_argument, NULL, 'w'},
        {"max-upload", required_argument, NULL, 'U'},
        {"config", required_argument, NULL, 'c'},
        {"cgi", required_argument, NULL, 'G'},
        {"no-precompressed", no_argument, NULL, 'P'},
        {"gzip", no_argument, NULL, 'z'},
        {"brotli", no_argument, NULL, 1104},
        {"list-dirs", no_argument, NULL, 'D'},
        {"cache-control", required_argument, NULL, 'K'},
        {"cgi-timeout", required_argument, NULL, 'T'},
        {"cgi-max", required_argument, NULL, 'M'},
        {"max-conns", required_argument, NULL, 'N'},
        {"max-conns-per-ip", required_argument, NULL, 'n'},
        {"ipv6-prefix", required_argument, NULL, '6'},
        {"min-body-rate", required_argument, NULL, 'R'},
        {"min-body-window", required_argument, NULL, 'W'},
        {"memory-budget", required_argument, NULL, 'b'},
        {"trusted-proxy", required_argument, NULL, 'x'},
        {"real-ip-header", required_argument, NULL, 'X'},
        {"check-config", required_argument, NULL, 'C'},
        {"queue", required_argument, NULL, 'q'},
        {"state-db", required_argument, NULL, 'Q'},
        {"jobs-path", required_argument, NULL, 'J'},
        {"no-group-commit", no_argument, NULL, 'g'},
        {"proxy", required_argument, NULL, 'p' + 256},
        {"pid-file", required_argument, NULL, 1100},
        {"user", required_argument, NULL, 1101},
        {"scripts-as-root", no_argument, NULL, 1102},
        {"webdav", no_argument, NULL, 1103},
        {"tls-listen", required_argument, NULL, 1000},
        {"cert", required_argument, NULL, 1001},
        {"key", required_argument, NULL, 1002},
        {"tls-ciphers", required_argument, NULL, 1003},
        {"tls-ciphersuites", required_argument, NULL, 1004},
        {"tls-ticket-rotate", required_argument, NULL, 1005},
        {"no-ktls", no_argument, NULL, 1006},
        {"tls-key-readable", no_argument, NULL, 1007},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    htd_config cfg = {0};
    const char *check = NULL;
    const char *listen[64], *writable[64], *cgi[64], *cache_control[64], *trusted[64], *queues[64],
        *proxies[64];
    const char *certs[16], *keys[16];
    size_t ncerts = 0, nkeys = 0;
    char tls_specs[64][320]; /* "ADDR tls" for --tls-listen ADDR */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:r:l:t:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cfg.config_file = optarg;
            break;
        case 'C':
            check = optarg;
            break;
        case 'r':
            cfg.root = optarg;
            break;
        case 'l':
            if (cfg.nlisten == sizeof listen / sizeof listen[0])
                die("--listen %s: at most 64 addresses%s", optarg, "");
            listen[cfg.nlisten++] = optarg;
            break;
        case 't':
            cfg.threads = (int)parse_count("--threads", optarg, 1024);
            break;
        case 'a':
            cfg.access_log = optarg;
            break;
        case 1200:
            cfg.error_log = optarg;
            break;
        case 1201:
            if (errlog_level_of(optarg) < 0)
                die("--error-log-level: expected error, warn, notice, info or debug, got '%s'%s",
                    optarg, "");
            cfg.error_log_level = optarg;
            break;
        case 'H':
            cfg.header_timeout_ms = parse_seconds("--header-timeout", optarg);
            break;
        case 'B':
            cfg.body_timeout_ms = parse_seconds("--body-timeout", optarg);
            break;
        case 'I':
            cfg.idle_timeout_ms = parse_seconds("--idle-timeout", optarg);
            break;
        case 'S':
            cfg.send_timeout_ms = parse_seconds("--send-timeout", optarg);
            break;
        case 'w':
            if (cfg.nwritable == sizeof writable / sizeof writable[0])
                die("--writable %s: at most 64 areas%s", optarg, "");
            writable[cfg.nwritable++] = optarg;
            break;
        case 'K':
            if (cfg.ncache_control == sizeof cache_control / sizeof cache_control[0])
                die("--cache-control %s: at most 64%s", optarg, "");
            cache_control[cfg.ncache_control++] = optarg;
            break;
        case 'D':
            cfg.list_dirs = 1;
            break;
        case 'z':
            cfg.gzip = 1;
            break;
        case 'P':
            cfg.no_precompressed = 1;
            break;
        case 'G':
            if (cfg.ncgi == sizeof cgi / sizeof cgi[0])
                die("--cgi %s: at most 64 prefixes%s", optarg, "");
            cgi[cfg.ncgi++] = optarg;
            break;
        case 'T':
            cfg.cgi_timeout_ms = parse_seconds("--cgi-timeout", optarg);
            break;
        case 'M':
            cfg.cgi_max = (unsigned)parse_count("--cgi-max", optarg, 100000);
            break;
        case 'N':
            cfg.max_conns = (unsigned)parse_count("--max-conns", optarg, 10000000);
            break;
        case 'n':
            cfg.max_conns_per_ip = (unsigned)parse_count("--max-conns-per-ip", optarg, 10000000);
            break;
        case '6':
            cfg.ipv6_prefix = (unsigned)parse_count("--ipv6-prefix", optarg, 128);
            break;
        case 'R':
            cfg.min_body_rate = (unsigned)parse_count("--min-body-rate", optarg, 1000000000);
            break;
        case 'W':
            cfg.min_body_window_ms = parse_seconds("--min-body-window", optarg);
            break;
        case 'x':
            if (cfg.ntrusted_proxies == sizeof trusted / sizeof trusted[0])
                die("--trusted-proxy %s: at most 64%s", optarg, "");
            trusted[cfg.ntrusted_proxies++] = optarg;
            break;
        case 'X':
            cfg.real_ip_header = optarg;
            break;
        case 'b':
            if (store_parse_size(optarg, strlen(optarg), &cfg.memory_budget) < 0 ||
                !cfg.memory_budget)
                die("--memory-budget: expected a size like 64M or 2G, got '%s'%s", optarg, "");
            break;
        case 'U':
            if (store_parse_size(optarg, strlen(optarg), &cfg.max_upload) < 0)
                die("--max-upload: expected a size like 512K, 100M or 2G, got '%s'%s", optarg, "");
            break;
        case 'm':
            cfg.max_requests = (unsigned)parse_count("--max-requests", optarg, 100000000);
            break;
        case 'q':
            if (cfg.nqueues == sizeof queues / sizeof queues[0])
                die("--queue %s: at most 64 queues%s", optarg, "");
            if (!strchr(optarg, '=') || optarg[0] != '/')
                die("--queue %s: expected PREFIX=COMMAND, like /jobs/=/usr/local/bin/work%s",
                    optarg, "");
            queues[cfg.nqueues++] = optarg;
            break;
        case 'p' + 256:
            if (cfg.nproxies == sizeof proxies / sizeof proxies[0])
                die("--proxy %s: at most 64 proxied prefixes%s", optarg, "");
            if (!strchr(optarg, '=') || optarg[0] != '/')
                die("--proxy %s: expected PREFIX=http://HOST:PORT, like "
                    "/api/=http://127.0.0.1:9000%s",
                    optarg, "");
            proxies[cfg.nproxies++] = optarg;
            break;
        case 'Q':
            cfg.state_db = optarg;
            break;
        case 'J':
            cfg.jobs_path = optarg;
            break;
        case 'g':
            cfg.queue_no_group_commit = 1;
            break;
        case 1000:
            if (cfg.nlisten == sizeof listen / sizeof listen[0])
                die("--tls-listen %s: at most 64 addresses%s", optarg, "");
            if (strlen(optarg) >= sizeof tls_specs[0] - 4)
                die("--tls-listen %s: too long%s", optarg, "");
            snprintf(tls_specs[cfg.nlisten], sizeof tls_specs[0], "%s tls", optarg);
            listen[cfg.nlisten] = tls_specs[cfg.nlisten];
            cfg.nlisten++;
            break;
        case 1001:
            if (ncerts == sizeof certs / sizeof certs[0])
                die("--cert %s: at most 16 certificates%s", optarg, "");
            certs[ncerts++] = optarg;
            break;
        case 1002:
            if (nkeys == sizeof keys / sizeof keys[0])
                die("--key %s: at most 16 keys%s", optarg, "");
            keys[nkeys++] = optarg;
            break;
        case 1003:
            cfg.tls_ciphers = optarg;
            break;
        case 1004:
            cfg.tls_ciphersuites = optarg;
            break;
        case 1005:
            cfg.tls_ticket_rotate_ms = parse_seconds("--tls-ticket-rotate", optarg);
            break;
        case 1006:
            cfg.tls_no_ktls = 1;
            break;
        case 1007:
            cfg.tls_key_readable = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 1100:
            cfg.pid_file = optarg;
            break;
        case 1101:
            cfg.user = optarg;
            break;
        case 1102:
            cfg.scripts_as_root = 1;
            break;
        case 1103:
            cfg.webdav = 1;
            break;
        case 1104:
            cfg.brotli = 1;
            break;
        case 'V':
            print_version();
            return 0;
        case ':':
            die("%s needs a value (see htd --help)%s", argv[optind - 1], "");
            break;
        default:
            die("unknown option '%s' (see htd --help)%s", argv[optind - 1], "");
        }
    }
    /* htd DIR, as python3 -m http.server users expect. */
    if (optind < argc && !cfg.root && optind + 1 == argc) cfg.root = argv[optind++];
    if (optind < argc)
        die(cfg.root && optind + 1 == argc ? "'%s': the root is given twice (--root and DIR)%s"
                                           : "unexpected argument '%s' (see htd --help)%s",
            argv[optind], "");
    cfg.listen = listen;
    cfg.writable = writable;
    cfg.cgi = cgi;
    cfg.trusted_proxies = trusted;
    cfg.cache_control = cache_control;
    cfg.queues = queues;
    cfg.proxies = proxies;
    if (ncerts != nkeys)
        die("each --cert needs its --key (%s)%s",
            ncerts > nkeys ? "a --cert has no --key" : "a --key has no --cert", "");
    cfg.tls_cert = certs;
    cfg.tls_key = keys;
    cfg.ntls_certs = ncerts;
    char err[512];
    if (check) {
        if (htd_config_check(check, err, sizeof err) < 0) die("%s%s", err, "");
        printf("htd: %s: configuration ok\n", check);
        return 0;
    }
    if (!cfg.config_file && !cfg.root) cfg.root = ".";
    config_path = cfg.config_file;

    /* Every connection is a descriptor: allow as many as the hard limit does,
     * as nginx's worker_rlimit_nofile would. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* Blocked here, so in every thread the server starts; worker 0's loop
     * reads them from a signalfd. With --threads 1 the process is then one
     * thread (the pool's start with their first job), and the kernel takes
     * its single-threaded fast paths on every system call of the loop. */
    static sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    server = htd_server_new(&cfg, err, sizeof err);
    if (!server) die("%s%s", err, "");

    /* From here on, the settings as the server has them: the flags, with
     * the config file's user, pid_file and scripts_as_root where no flag
     * gave one. */
    const htd_config *eff = htd_server_config(server);
    /* The pid file first, while htd may still make it where root may. */
    char *pid_file = eff->pid_file ? strdup(eff->pid_file) : NULL; /* it outlives the server */
    if (pid_file && write_pid(pid_file, eff->user, err, sizeof err) < 0)
        die("pid file %s: %s", pid_file, err);
    if (eff->user && become(eff->user, err, sizeof err) < 0) die("user %s: %s", eff->user, err);
    if (geteuid() == 0 && !eff->scripts_as_root && htd_server_runs_scripts(server))
        die("%s%s",
            "refusing to run CGI scripts or queue commands as root: give a user to run as "
            "(--user www-data, or user = \"www-data\"; in the config), or say they may run as "
            "root (--scripts-as-root, or scripts_as_root = true;)",
            "");

    /* Said once htd runs as it will: as its user, its scripts allowed. */
    char root[4096];
    const char *shown = *htd_server_root(server) ? htd_server_root(server) : cfg.config_file;
    if (!realpath(shown, root)) snprintf(root, sizeof root, "%s", shown);
    for (size_t i = 0; htd_server_address(server, i); i++)
        printf("htd " HTD_VERSION " serving %s at %s://%s/\n", root, htd_server_scheme(server, i),
               htd_server_address(server, i));
    fflush(stdout);

    if (htd_server_signals(server, &sigs, on_signal, NULL) < 0)
        die("cannot take signals: %s%s", strerror(errno), "");
    int rc = htd_server_run(server);
    htd_server_free(server);
    if (pid_file) remove_pid(pid_file);
    free(pid_file);
    return rc == 0 ? 0 : 1;
}
