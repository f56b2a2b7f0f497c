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
 * temporary directory), or NULL with the error on stderr. */
static site *build(const char *conf, char *dir, char *path)
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
    char err[512] = "";
    htd_config cfg = {0};
    conf_file *f = conf_open(path, err, sizeof err);
    if (f) conf_on_warning(f, keep_warning, NULL);
    if (f) st = site_build(&cfg, f, 1, err, sizeof err);
    if (!st) fprintf(stderr, "  (%s)\n", err);
    conf_close(f);
    return st;
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

int main(void)
{
    RUN_TESTS();
}
