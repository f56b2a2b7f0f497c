#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs htd's black-box tests against the real binary.

    python3 tests/blackbox/run.py --htd build/htd --examples build/examples [-k SUBSTRING]

Each test_*.py module next to this file holds functions named test_*; each
takes a Context whose `srv` is a shared htd (started on first use over a
shared document root) and whose `root` is that root. Tests that need a server
of their own start it with harness.start_htd and stop it themselves.

Prints one line per test, then a summary; exits 1 if any test failed.
"""

import argparse
import importlib
import inspect
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

MODULE_ORDER = ["status", "parsing", "static", "conditional", "ranges",
                "keepalive", "accesslog", "cli", "lifecycle", "example"]


class Context:
    """What a test gets: the shared server and root, created lazily."""

    def __init__(self):
        self._root = None
        self._srv = None
        self.used_shared = False

    @property
    def root(self):
        if self._root is None:
            self._root = harness.Docroot()
        return self._root

    @property
    def srv(self):
        self.used_shared = True
        if self._srv is None:
            self._srv = harness.start_htd(self.root.path)
        return self._srv

    def restart(self):
        if self._srv is not None:
            self._srv.cleanup()
            self._srv = None

    def shutdown(self):
        """Stops the shared server with SIGTERM; returns an error string or None."""
        if self._srv is None:
            return None
        srv = self._srv
        problem = None
        if not srv.alive():
            problem = "shared server had already exited with %s" % srv.proc.returncode
        else:
            rc = srv.stop(signal.SIGTERM)
            if rc != 0:
                problem = "shared server exit status after SIGTERM: %r (expected 0)" % rc
        rep = srv.sanitizer_report()
        if rep:
            problem = (problem + "\n" if problem else "") + "sanitizer report:\n" + rep
        srv.cleanup()
        self._srv = None
        return problem

    def cleanup(self):
        if self._srv is not None:
            self._srv.cleanup()
        if self._root is not None:
            self._root.cleanup()


def discover():
    names = [f[5:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py")]
    names.sort(key=lambda n: (MODULE_ORDER.index(n) if n in MODULE_ORDER else 99, n))
    tests = []
    for n in names:
        mod = importlib.import_module("test_" + n)
        fns = [(obj.__code__.co_firstlineno, name, obj)
               for name, obj in vars(mod).items()
               if name.startswith("test_") and inspect.isfunction(obj)
               and obj.__module__ == mod.__name__]
        for _, name, fn in sorted(fns, key=lambda t: t[0]):
            tests.append(("%s.%s" % (n, name), fn))
    return tests


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--htd", default="build/htd")
    ap.add_argument("--examples", default="build/examples")
    ap.add_argument("-k", dest="filter", action="append", default=[],
                    help="run only tests whose name contains SUBSTRING (repeatable)")
    ap.add_argument("--timeout", type=float, default=harness.TIMEOUT,
                    help="seconds per socket operation (default %(default)s)")
    args = ap.parse_args()

    harness.HTD = os.path.abspath(args.htd)
    harness.EXAMPLES = os.path.abspath(args.examples)
    harness.TIMEOUT = args.timeout
    if not os.access(harness.HTD, os.X_OK):
        print("run.py: %s is not an executable; build it first (make build/htd)" % harness.HTD)
        return 2

    tests = discover()
    if args.filter:
        tests = [t for t in tests if any(k in t[0] for k in args.filter)]
    width = max([len(n) for n, _ in tests] + [40])
    ctx = Context()
    passed, failed, skipped = [], [], []
    t_start = time.monotonic()

    def report(name, status, dt, detail=None):
        print("%-*s %-4s %6.2fs" % (width, name, status, dt), flush=True)
        if detail:
            for line in detail.rstrip().split("\n"):
                print("    " + line)
            sys.stdout.flush()

    try:
        for name, fn in tests:
            ctx.used_shared = False
            t0 = time.monotonic()
            detail = None
            status = "ok"
            try:
                fn(ctx)
                if ctx.used_shared:
                    ctx.srv.check_health()
            except harness.Skip as e:
                status, detail = "skip", str(e)
            except harness.TestFailure as e:
                status, detail = "FAIL", str(e) + "\n" + _where(e)
            except Exception:
                status, detail = "FAIL", traceback.format_exc()
            if status == "FAIL" and ctx.used_shared and ctx._srv is not None:
                try:
                    ctx._srv.check_health()
                except harness.TestFailure as e:
                    detail += "\n" + str(e)
                # A fresh server for the next test, so that one failure (a
                # stuck worker, a corrupted heap) does not cascade.
                ctx.restart()
            dt = time.monotonic() - t0
            report(name, status, dt, detail)
            {"ok": passed, "FAIL": failed, "skip": skipped}[status].append(name)

        if ctx._srv is not None:
            t0 = time.monotonic()
            problem = ctx.shutdown()
            name = "harness.shared_server_stops_cleanly"
            report(name, "FAIL" if problem else "ok", time.monotonic() - t0, problem)
            (failed if problem else passed).append(name)
    finally:
        ctx.cleanup()

    total = time.monotonic() - t_start
    print("-" * (width + 13))
    print("%d tests: %d passed, %d failed, %d skipped in %.1f s"
          % (len(passed) + len(failed) + len(skipped), len(passed), len(failed),
             len(skipped), total))
    if failed:
        print("failed:")
        for n in failed:
            print("  " + n)
    return 1 if failed else 0


def _where(e):
    """The test's own frame of a failure, for a one-line pointer."""
    tb = [fr for fr in traceback.extract_tb(e.__traceback__)
          if os.path.basename(fr.filename).startswith("test_")]
    if not tb:
        return ""
    inner = tb[-1]
    outer = [fr for fr in tb if fr.name.startswith("test_")][-1:] or [inner]
    where = "at %s:%d: %s" % (os.path.basename(inner.filename), inner.lineno, inner.line)
    if outer[0] is not inner:
        where += "\n  (from %s:%d: %s)" % (os.path.basename(outer[0].filename),
                                           outer[0].lineno, outer[0].line)
    return where


if __name__ == "__main__":
    sys.exit(main())
