/*
 * main.c - the htd program: command-line flags onto an htd_config, signals
 * onto htd_server_stop. Everything else is the library.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "htd.h"
#include "store.h"

static htd_server *server;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (server) htd_server_stop(server);
}

static void usage(FILE *f)
{
    fputs("usage: htd [--root DIR] [--listen HOST:PORT]... [--threads N] [--access-log FILE|-] [...]\n"
          "\n"
          "Serves the files under DIR (default: the current directory) over HTTP/1.1.\n"
          "\n"
          "  -r, --root DIR         document root (default: .)\n"
          "  -l, --listen ADDR      HOST:PORT, [IPV6]:PORT, or PORT for every interface;\n"
          "                         repeatable (default: 127.0.0.1:8080; port 0 picks one)\n"
          "  -t, --threads N        worker threads, each with its own event loop\n"
          "                         (default: one per CPU core)\n"
          "      --access-log FILE  Combined Log Format access log; - for stdout\n"
          "      --header-timeout S seconds to receive a request head (default 10)\n"
          "      --body-timeout S   seconds between reads of a request body (default 30)\n"
          "      --idle-timeout S   seconds a keep-alive connection may idle (default 60)\n"
          "      --send-timeout S   seconds between writes of a response (default 30)\n"
          "      --max-requests N   requests per keep-alive connection (default 1000)\n"
          "      --writable PREFIX[:SIZE]  let PUT, POST and DELETE write under PREFIX,\n"
          "                         documents up to SIZE (default --max-upload); repeatable\n"
          "      --max-upload SIZE  largest document a PUT or POST may write (default 100M)\n"
          "  -h, --help             this help\n"
          "  -V, --version          print the version\n",
          f);
}

static void die(const char *fmt, const char *a, const char *b)
{
    fputs("htd: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(2);
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},    {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'}, {"access-log", required_argument, NULL, 'a'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"body-timeout", required_argument, NULL, 'B'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"send-timeout", required_argument, NULL, 'S'},
        {"max-requests", required_argument, NULL, 'm'},
        {"writable", required_argument, NULL, 'w'},
        {"max-upload", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    htd_config cfg = {.root = "."};
    const char *listen[64], *writable[64];
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":r:l:t:hV", opts, NULL)) != -1) {
        switch (c) {
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
        case 'U':
            if (store_parse_size(optarg, strlen(optarg), &cfg.max_upload) < 0)
                die("--max-upload: expected a size like 512K, 100M or 2G, got '%s'%s", optarg, "");
            break;
        case 'm':
            cfg.max_requests = (unsigned)parse_count("--max-requests", optarg, 100000000);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            puts("htd " HTD_VERSION);
            return 0;
        case ':':
            die("%s needs a value (see htd --help)%s", argv[optind - 1], "");
            break;
        default:
            die("unknown option '%s' (see htd --help)%s", argv[optind - 1], "");
        }
    }
    if (optind < argc) die("unexpected argument '%s' (see htd --help)%s", argv[optind], "");
    cfg.listen = listen;
    cfg.writable = writable;

    /* Every connection is a descriptor: allow as many as the hard limit does,
     * as nginx's worker_rlimit_nofile would. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    char err[512];
    server = htd_server_new(&cfg, err, sizeof err);
    if (!server) die("%s%s", err, "");

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char root[4096];
    if (!realpath(cfg.root, root)) snprintf(root, sizeof root, "%s", cfg.root);
    for (size_t i = 0; htd_server_address(server, i); i++)
        printf("htd " HTD_VERSION " serving %s at http://%s/\n", root, htd_server_address(server, i));
    fflush(stdout);

    int rc = htd_server_run(server);
    htd_server_free(server);
    return rc == 0 ? 0 : 1;
}
