# SPDX-License-Identifier: BSD-2-Clause
"""The error log: every line has the local time with milliseconds, the
level in brackets, the connection and request id when it is about one, then
the message; to stderr by default, or to error_log (--error-log), keeping
the levels up to error_log_level (--error-log-level); reopened on SIGUSR1;
bad levels refused."""

import os
import re
import signal
import subprocess
import time

import harness
from harness import check, eq, get, wait_until

WARN = (b"#!/bin/sh\necho 'a warning from the script' >&2\n"
        b"printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n")
FAIL = b"#!/bin/sh\necho 'about to fail' >&2\nexit 3\n"


def lines_of(text):
    return [l for l in text.split("\n") if l]


def test_error_log_file_lines_levels_ids_and_reopen(ctx):
    cd = harness.ConfDir({"site/cgi-bin/warn.sh": WARN, "site/cgi-bin/fail.sh": FAIL})
    os.chmod(cd.p("site/cgi-bin/warn.sh"), 0o755)
    os.chmod(cd.p("site/cgi-bin/fail.sh"), 0o755)
    cd.mkdir("logs")
    log = cd.p("logs/error.log")
    try:
        conf = ('root = "site";\ncgi = ["/cgi-bin/"];\nerror_log = "logs/error.log";\n'
                'error_log_level = "warn";\nrequest_id_header = "X-Request-Id";\n')
        with harness.config_server(conf, confdir=cd) as srv:
            r = get(srv, "/cgi-bin/warn.sh")
            eq(r.status, 200, "the warning script")
            rid = r.get("X-Request-Id")
            wait_until(lambda: "a warning from the script" in (harness.read_file(log) or ""), 5,
                       "the script's line in the error log")
            ls = lines_of(harness.read_file(log))
            eq(len(ls), 1, "one line (%r)" % ls)
            m = harness.ERRLOG_RE.match(ls[0])
            check(m is not None, "an error log line: %r" % ls[0])
            t = time.strptime(m.group(1)[:19], "%Y/%m/%d %H:%M:%S")
            check(abs(time.mktime(t) - time.time()) < 60, "local time, now: %r" % ls[0])
            eq(m.group(2), "warn", "level")
            check(m.group(3) and m.group(3).startswith("#c"), "the connection: %r" % ls[0])
            eq(m.group(4), rid, "the request's id, the one its response header gave")
            eq(m.group(5), "htd: cgi /cgi-bin/warn.sh: a warning from the script", "message")
            # rotation: the old file is moved away, SIGUSR1 opens a new one
            os.rename(log, log + ".1")
            srv.send_signal(signal.SIGUSR1)
            wait_until(lambda: os.path.exists(log), 5, "a new error log after SIGUSR1")
            eq(get(srv, "/cgi-bin/fail.sh").status, 500, "the failing script")
            wait_until(lambda: "exited" in (harness.read_file(log) or "")
                       or len(lines_of(harness.read_file(log) or "")) >= 2, 5,
                       "the failure in the new file")
            time.sleep(0.2)
            new = harness.errlog_messages(harness.read_file(log))
            check("htd: cgi /cgi-bin/fail.sh: about to fail" in new,
                  "the script's stderr line in the new file: %r" % new)
            check(any(l.startswith("htd: cgi /cgi-bin/fail.sh: 500: ") for l in new),
                  "the 500 in the new file: %r" % new)
            eq(len(lines_of(harness.read_file(log + ".1"))), 1, "the old file kept its line")
            stderr = srv.stderr()
        check(not harness.errlog_messages(stderr),
              "nothing of the error log on stderr: %r" % stderr[-1000:])
    finally:
        cd.cleanup()


def test_error_log_level_error_drops_warnings(ctx):
    cd = harness.ConfDir({"site/cgi-bin/warn.sh": WARN, "site/cgi-bin/fail.sh": FAIL})
    os.chmod(cd.p("site/cgi-bin/warn.sh"), 0o755)
    os.chmod(cd.p("site/cgi-bin/fail.sh"), 0o755)
    try:
        with harness.config_server('root = "site";\ncgi = ["/cgi-bin/"];\n', confdir=cd,
                                   extra=["--error-log-level", "error"]) as srv:
            eq(get(srv, "/cgi-bin/warn.sh").status, 200, "the warning script")
            eq(get(srv, "/cgi-bin/fail.sh").status, 500, "the failing script")
            wait_until(lambda: any(": 500: " in m for m in harness.errlog_messages(srv.stderr())),
                       5, "the 500 on stderr")
            time.sleep(0.3)
            msgs = harness.errlog_messages(srv.stderr())
            check(not any("warning from the script" in m or "about to fail" in m for m in msgs),
                  "script stderr lines are warnings: dropped at level error: %r" % msgs)
            for l in lines_of(srv.stderr()):
                if " serving " not in l:
                    m = harness.ERRLOG_RE.match(l)
                    check(m is not None and m.group(2) == "error", "only errors: %r" % l)
    finally:
        cd.cleanup()


def test_error_log_flag_and_bad_levels_refused(ctx):
    cd = harness.ConfDir({"site/x.txt": b"x"})
    try:
        log = cd.p("flag-error.log")
        srv = harness.start_htd(cd.p("site"), extra=["--error-log", log, "--writable", "/up/"])
        try:
            # the store's warning at start, an open writable area
            wait_until(lambda: "open to every client" in (harness.read_file(log) or ""), 5,
                       "the start warning in --error-log's file")
            m = harness.ERRLOG_RE.match(lines_of(harness.read_file(log))[0])
            check(m is not None and m.group(2) == "warn" and m.group(3) is None,
                  "a warning about no connection: %r" % harness.read_file(log))
        finally:
            srv.stop()
            srv.cleanup()
        p = subprocess.run([harness.HTD, "--error-log-level", "loud", "--root", cd.p("site")],
                           capture_output=True, timeout=10)
        eq(p.returncode, 2, "a bad --error-log-level")
        check(b"--error-log-level" in p.stderr, "the flag named: %r" % p.stderr)
        cd.write("bad.conf", 'root = "site";\nerror_log_level = "loud";\n')
        p = subprocess.run([harness.HTD, "--check-config", cd.p("bad.conf")], capture_output=True,
                           timeout=10)
        eq(p.returncode, 2, "a bad error_log_level")
        check(re.search(rb"bad\.conf:2: .*error_log_level", p.stderr), "FILE:LINE: %r" % p.stderr)
    finally:
        cd.cleanup()
