# SPDX-License-Identifier: BSD-2-Clause
"""The manual pages, htd(8) and htd.conf(5), made by `make man` from
docs/*.scd: each renders with `man -l` without a warning, and between them
they name every flag in main.c's option table and every setting in
config.c's lists of keys, so neither can grow without its documentation."""

import os
import re
import shutil

import harness
from harness import REPO, check, eq, fail

PAGES = (("htd.8", "htd - an HTTP/1.1 origin server"),
         ("htd.conf.5", "htd.conf - the configuration file of htd"))


def test_man_pages_render_without_warnings(ctx):
    harness.run_make("man")
    if shutil.which("man") is None:
        fail("man is not installed (scripts/setup.sh installs man-db)")
    env = harness.build_env()
    env.update(LC_ALL="C.UTF-8", MANWIDTH="80")
    for page, name in PAGES:
        path = os.path.join(REPO, harness.build_dir(), "man", page)
        p = harness.run_ok(["man", "--warnings", "-E", "UTF-8", "-l", path], "man -l " + page,
                           env=env, timeout=60)
        eq(p.stderr.decode("utf-8", "replace"), "", "warnings from man -l %s" % page)
        text = p.stdout.decode("utf-8", "replace")
        check(name in text, "%s renders without its NAME line %r:\n%s" % (page, name, text[:500]))


def _read(path):
    with open(os.path.join(REPO, path)) as f:
        return f.read()


def test_man_pages_name_every_flag_and_setting(ctx):
    page8, page5 = _read("docs/htd.8.scd"), _read("docs/htd.conf.5.scd")
    flags = re.findall(r'\{"([a-z0-9-]+)", (?:no|required)_argument', _read("src/server/main.c"))
    check(len(flags) > 30, "main.c's option table not found (%d flags)" % len(flags))
    eq([f for f in flags if "*--%s*" % f not in page8], [],
       "flags of main.c that htd(8) does not describe")
    keys = set()
    for arr in re.findall(r"keys\[\] = \{(.*?)\};", _read("src/server/config.c"), re.S):
        keys.update(re.findall(r'"([a-z_0-9]+)"', arr))
    check(len(keys) > 60, "config.c's lists of keys not found (%d keys)" % len(keys))
    eq(sorted(k for k in keys if "*%s*" % k not in page5), [],
       "settings of config.c that htd.conf(5) does not describe")
