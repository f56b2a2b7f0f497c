# SPDX-License-Identifier: BSD-2-Clause
"""The Makefile as a packager uses it: every compile takes CPPFLAGS and
CFLAGS, every link LDFLAGS (Debian's hardening flags), and -Werror, there
for development builds, goes with WERROR=. Checked on `make -n` into an
empty build directory, so nothing is built."""

import os
import re
import shutil
import tempfile

import harness
from harness import REPO, check


def test_every_compile_and_link_takes_the_packagers_flags(ctx):
    """A dry run into an empty build directory: every compile has CPPFLAGS
    and CFLAGS, every link LDFLAGS, and WERROR= drops -Werror."""
    work = tempfile.mkdtemp(prefix="htd-flags-")
    try:
        dry = ["make", "-C", REPO, "-n", "--no-print-directory", "BUILD=" + work]
        p = harness.run_ok(dry + ["WERROR=", "CPPFLAGS=-DHTD_PKG_CPP", "CFLAGS=-O2 -DHTD_PKG_C",
                                  "LDFLAGS=-Wl,-z,now", "all"], "make -n all")
        lines = [ln for ln in p.stdout.decode().splitlines()
                 if re.match(r"\s*(cc|c\+\+|g\+\+|gcc|clang)\b", ln)]
        compiles = [ln for ln in lines if " -c " in ln]
        links = [ln for ln in lines if " -c " not in ln]
        check(len(compiles) > 50 and len(links) > 10,
              "%d compiles and %d links in make -n all" % (len(compiles), len(links)))
        for ln in lines:
            check("-Werror" not in ln.split(), "-Werror with WERROR= : " + ln)
            check("-DHTD_PKG_C" in ln, "a command without CFLAGS: " + ln)
        for ln in compiles:
            check("-DHTD_PKG_CPP" in ln, "a compile without CPPFLAGS: " + ln)
        for ln in links:
            check("-Wl,-z,now" in ln, "a link without LDFLAGS: " + ln)
        p = harness.run_ok(dry + ["all"], "make -n all")
        check(" -Werror " in p.stdout.decode(), "a development build without -Werror")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_every_source_file_says_its_license(ctx):
    """An SPDX line in the first lines of every file of code the repository
    keeps (C, C++, Python, shell, Lua, the Makefile), as LICENSE says."""
    import subprocess
    if not os.path.exists(os.path.join(REPO, ".git")):  # a directory, or a worktree's file
        raise harness.Skip("not a git checkout")
    files = subprocess.check_output(["git", "-C", REPO, "ls-files"], text=True).split("\n")
    code = re.compile(r"\.(c|h|cc|cpp|py|sh|lua)$|(^|/)(Makefile|bench/run|\.ci/run|"
                      r"postinst|postrm|prerm)$")
    missing = []
    for f in files:
        if not f or "corpus" in f or not code.search(f):
            continue
        with open(os.path.join(REPO, f), encoding="utf-8", errors="replace") as fh:
            head = "".join(fh.readline() for _ in range(3))
        if "SPDX-License-Identifier: BSD-2-Clause" not in head:
            missing.append(f)
    check(not missing, "files without an SPDX line: %r" % missing[:20])
    with open(os.path.join(REPO, "LICENSE")) as f:
        check(f.readline().startswith("BSD 2-Clause"), "LICENSE is the BSD 2-Clause license")
