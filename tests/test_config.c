/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_config.c - a site built from a config file: each vhost keeps the
 * first of its names as written, which is what a handler is told it was
 * served under; the top-level server has none. A regex or target of another
 * dialect is a warning, FILE:LINE and what to write, through the file's sink,
 * once for each construct; the site is built all the same.
 */
#include "config.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The warnings of the last build, one a line. */
static char warned[2048];

static void keep_warning(void *arg, const char *line)
{
    (void)arg;
    size_t n = strlen(warned);
    snprintf(warned + n, sizeof warned - n, "%s\n", line);
}

/* Builds the site of the config text conf (its roots relative to a
 * temporary directory), or NULL with the error in err (or on stderr). */
static site *build_err(const char *conf, char *dir, char *path, char *err, size_t errlen)
{
    warned[0] = 0;
    site *st = NULL;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return NULL;
    }
    snprintf(path, 256, "%s/htd.conf", dir);
    FILE *fp = fopen(path, "w");
    if (!fp || fputs(conf, fp) < 0 || fclose(fp) != 0) {
        perror(path);
        return NULL;
    }
    htd_config cfg = {0};
    conf_file *f = conf_open(path, err, errlen);
    if (f) conf_on_warning(f, keep_warning, NULL);
    if (f) st = site_build(&cfg, f, 1, err, errlen);
    conf_close(f);
    return st;
}

static site *build(const char *conf, char *dir, char *path)
{
    char err[512] = "";
    site *st = build_err(conf, dir, path, err, sizeof err);
    if (!st) fprintf(stderr, "  (%s)\n", err);
    return st;
}

static void done(site *st, char *dir, char *path)
{
    site_free(st);
    unlink(path);
    rmdir(dir);
}

/* Whether conf is refused with an error that has want in it. */
static int refused(const char *conf, const char *want)
{
    char dir[] = "/tmp/htd-test-config-XXXXXX", path[256] = "", err[512] = "";
    site *st = build_err(conf, dir, path, err, sizeof err);
    int ok = !st && strstr(err, want) != NULL;
    if (!ok) fprintf(stderr, "  (%s: %s)\n", conf, st ? "accepted" : err);
    done(st, dir, path);
    return ok;
}

static int has(const char *lines, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(lines, want, len) == 0;
}

TEST(a_vhost_is_named_by_its_first_name_as_written_and_the_top_level_by_none)
{
    char dir[] = "/tmp/htd-test-config-XXXXXX", path[256] = "";
    site *st = build("vhosts = (\n"
                     "  { names = [\"Example.TEST\", \"www.example.test\"]; root = \".\"; },\n"
                     "  { names = [\"*.example.org\", \"example.org\"]; root = \".\"; },\n"
                     "  { names = \"one.test\"; root = \".\"; default = true; }\n"
                     ");\n",
                     dir, path);
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ_INT(st->nvhosts, 4);
        CHECK(st->vhosts[0].name == NULL);
        CHECK(strcmp(st->vhosts[1].name, "Example.TEST") == 0);
        CHECK(strcmp(st->vhosts[2].name, "*.example.org") == 0);
        CHECK(strcmp(st->vhosts[3].name, "one.test") == 0);
        CHECK(site_vhost(st, (htd_str){"www.example.test", 16}) == &st->vhosts[1]);
        site_free(st);
    }
    unlink(path);
    rmdir(dir);
}

TEST(a_regex_of_another_dialect_is_a_warning_once_with_its_line)
{
    char dir[] = "/tmp/htd-test-config-XXXXXX", path[256] = "";
    site *st = build("rules = (\n"
                     "  { regex = \"^/ok/(\\\\d+)$\"; redirect = \"/n/$1\"; },\n"
                     "  { regex = \"^/a/\\\\<x\\\\<y\"; redirect = \"/b/\\\\1\"; }\n"
                     ");\n",
                     dir, path);
    CHECK(st != NULL);
    char want[1024];
    snprintf(want, sizeof want,
             "%s:3: warning: in regex, \"\\<\" is a literal '<' in PCRE2, not GNU's start of a "
             "word; write \\b\n"
             "%s:3: warning: in redirect, \"\\1\" is sed's back-reference, and text in htd's "
             "targets; write $1\n",
             path, path);
    CHECK(strcmp(warned, want) == 0);
    if (strcmp(warned, want) != 0) fprintf(stderr, "  warned:\n%s", warned);
    site_free(st);
    unlink(path);
    rmdir(dir);
}

TEST(cache_control_is_a_rules_else_its_vhosts_and_said_once)
{
    char dir[] = "/tmp/htd-test-config-XXXXXX", path[256] = "";
    site *st =
        build("vhosts = ( { names = \"a.test\"; root = \".\"; cache_control = \"max-age=9\";\n"
              "  headers = { X-A = \"a\"; };\n"
              "  rules = ( { prefix = \"/hdr/\"; headers = { Cache-Control = \"private\"; }; },\n"
              "            { prefix = \"/more/\"; headers = { X-C = \"c\"; }; },\n"
              "            { prefix = \"/none/\"; } ); },\n"
              "  { names = \"b.test\"; root = \".\";\n"
              "  headers = { X-A = \"a\"; Cache-Control = \"no-cache\"; X-B = \"b\"; };\n"
              "  rules = ( { prefix = \"/own/\"; cache_control = \"no-store\"; } ); } );\n",
              dir, path);
    CHECK(st != NULL);
    if (!st) return;
    const vhost *a = &st->vhosts[1], *b = &st->vhosts[2];
    CHECK(has(a->sc.cc, a->sc.cc_len, "Cache-Control: max-age=9\r\n") && !a->sc.cc_in_headers);
    CHECK(!b->sc.cc && b->sc.cc_in_headers);
    CHECK(!st->vhosts[0].sc.cc);
    const scope *hdr = NULL, *more = NULL, *none = NULL;
    for (size_t i = 0; i < a->nrules; i++) {
        const rule *r = &a->rules[i];
        const scope **at = strcmp(r->pat, "/hdr/") == 0    ? &hdr
                           : strcmp(r->pat, "/more/") == 0 ? &more
                                                           : &none;
        *at = &r->sc;
    }
    /* A Cache-Control in the rule's headers outranks the vhost's cache_control. */
    CHECK(hdr->cc == NULL && hdr->cc_in_headers);
    /* Headers of its own replace the vhost's, cache_control stays. */
    CHECK(has(more->cc, more->cc_len, "Cache-Control: max-age=9\r\n") && !more->cc_in_headers);
    CHECK(none->cc == a->sc.cc && none->headers == a->sc.headers);
    /* The rule's cache_control, and its vhost's other headers without theirs. */
    const scope *own = &b->rules[0].sc;
    CHECK(has(own->cc, own->cc_len, "Cache-Control: no-store\r\n"));
    CHECK(has(own->headers, own->headers_len, "X-A: a\r\nX-B: b\r\n"));
    CHECK(!own->cc_in_headers);
    done(st, dir, path);
    CHECK(refused("rules = ( { prefix = \"/x/\"; cache_control = \"a\\tb\"; } );\n",
                  "control characters"));
    CHECK(refused("cache_control = \"a\";\nheaders = { CACHE-CONTROL = \"b\"; };\n", "set twice"));
}

TEST(a_rule_that_runs_scripts_is_refused_where_uploads_land)
{
    static const char *const bad[] = {
        "{ prefix = \"/\"; cgi = true; }",        "{ prefix = \"/dav\"; cgi = true; }",
        "{ prefix = \"/dav/x/\"; cgi = true; }",  "{ exact = \"/dav/a.cgi\"; cgi = true; }",
        "{ regex = \"\\\\.cgi$\"; cgi = true; }", "{ regex = \"^/d\"; cgi = true; }",
        "{ regex = \"^/dav/x/\"; cgi = true; }",
    };
    static const char *const good[] = {
        "{ prefix = \"/dav/\"; cgi = false; }", "{ prefix = \"/davx/\"; cgi = true; }",
        "{ exact = \"/dav\"; cgi = false; }",   "{ regex = \"^/app/\"; cgi = true; }",
        "{ regex = \"^/davx\"; cgi = true; }",
    };
    char conf[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(conf, sizeof conf,
                 "vhosts = ( { names = \"a.test\"; root = \".\"; writable = [\"/dav/:1M\"];\n"
                 "  rules = ( %s ); } );\n",
                 bad[i]);
        CHECK(refused(conf, "writable area /dav/"));
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(conf, sizeof conf,
                 "vhosts = ( { names = \"a.test\"; root = \".\"; writable = [\"/dav/:1M\"];\n"
                 "  rules = ( %s ); } );\n",
                 good[i]);
        char dir[] = "/tmp/htd-test-config-XXXXXX", path[256] = "";
        site *st = build(conf, dir, path);
        CHECK(st != NULL);
        done(st, dir, path);
    }
    CHECK(refused("rules = ( { prefix = \"/x/\"; cgi = [\"/y/\"]; } );\n", "true or false"));
}

TEST(retry_body_max_is_64k_unless_said_and_0_keeps_none)
{
    static const struct {
        const char *set;
        uint64_t want;
    } cases[] = {{"", 65536},
                 {"retry_body_max = \"1M\";", 1 << 20},
                 {"retry_body_max = 0;", 0},
                 {"retry_body_max = 100;", 100}};
    char conf[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(conf, sizeof conf,
                 "upstreams = ( { name = \"app\"; servers = [\"127.0.0.1:9\"]; %s } );\n",
                 cases[i].set);
        char dir[] = "/tmp/htd-test-config-XXXXXX", path[256] = "";
        site *st = build(conf, dir, path);
        CHECK(st != NULL && st->nupstreams == 1);
        if (st && st->nupstreams == 1) CHECK(st->upstreams[0].retry_body_max == cases[i].want);
        done(st, dir, path);
    }
    CHECK(refused("upstreams = ( { name = \"a\"; servers = [\"127.0.0.1:9\"]; "
                  "retry_body_max = \"1G\"; } );\n",
                  "at most 64M"));
    CHECK(refused("upstreams = ( { name = \"a\"; servers = [\"127.0.0.1:9\"]; "
                  "retry_body_max = \"lots\"; } );\n",
                  "expected a size"));
}

int main(void)
{
    RUN_TESTS();
}
