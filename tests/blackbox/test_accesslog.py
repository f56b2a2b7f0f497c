"""--access-log FILE: one Combined Log Format line per request, written out
by the time a SIGTERM stop completes, with quotes in Referer and User-Agent
escaped as \\"."""

import datetime
import os
import re
import shutil
import tempfile

import harness
from harness import check, connect, eq, req

CLF = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) '
    r'"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$')


def test_access_log_combined_format(ctx):
    d = tempfile.mkdtemp(prefix="htd-alog-")
    log = os.path.join(d, "access.log")
    srv = harness.start_htd(ctx.root.path, extra=["--access-log", log])
    try:
        # (request bytes, method, request line, referer, ua) -> expected log fields
        plan = [
            (req("/file.txt", headers=[("Referer", 'http://r.example/"q"'),
                                       ("User-Agent", 'ua "one"')]),
             "GET", "GET /file.txt HTTP/1.1", r'http://r.example/\"q\"', r'ua \"one\"'),
            (req("/missing.txt", headers=[("User-Agent", "ua-two")]),
             "GET", "GET /missing.txt HTTP/1.1", "-", "ua-two"),
            (req("/file.txt", "HEAD", headers=[("User-Agent", "ua-three")]),
             "HEAD", "HEAD /file.txt HTTP/1.1", "-", "ua-three"),
            (req("/letters.txt", headers=[("Range", "bytes=0-9"), ("User-Agent", "ua-four")]),
             "GET", "GET /letters.txt HTTP/1.1", "-", "ua-four"),
            (b"GET /file.txt?x=1 HTTP/1.0\r\nUser-Agent: ua-five\r\n\r\n",
             "GET", "GET /file.txt?x=1 HTTP/1.0", "-", "ua-five"),
        ]
        want = []
        c = connect(srv)
        for data, method, line, ref, ua in plan:
            c.send(data)
            r = c.read_response(method)
            want.append((line, r.status, len(r.body), ref, ua))
        c.close()
        eq([w[1] for w in want], [200, 404, 200, 206, 200], "statuses of the logged requests")
        rc = srv.stop()
        eq(rc, 0, "exit status after SIGTERM")
        with open(log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        lines = text.splitlines()
        check(text.endswith("\n"), "log does not end with a newline: %r" % text[-200:])
        eq(len(lines), len(plan), "number of log lines (log: %r)" % text[:2000])
        now = datetime.datetime.now(datetime.timezone.utc)
        got = {}
        for l in lines:
            m = CLF.match(l)
            check(m is not None, "not a Combined Log Format line: %r" % l)
            eq(m.group(1), "127.0.0.1", "remote address in %r" % l)
            eq((m.group(2), m.group(3)), ("-", "-"), "ident and user in %r" % l)
            try:
                ts = datetime.datetime.strptime(m.group(4), "%d/%b/%Y:%H:%M:%S %z")
            except ValueError:
                harness.fail("bad timestamp [%s] in %r" % (m.group(4), l))
            check(abs((now - ts).total_seconds()) < 120, "timestamp far from now: %r" % l)
            got[m.group(9)] = (m.group(5), int(m.group(6)), m.group(7), m.group(8), m.group(9))
        for line, status, nbytes, ref, ua in want:
            check(ua in got, "no log line with User-Agent %r in %r" % (ua, text))
            gline, gstatus, gbytes, gref, gua = got[ua]
            eq(gline, line, "request line logged")
            eq(gstatus, status, "status logged for %s" % line)
            ok_bytes = {str(nbytes)} | ({"-"} if nbytes == 0 else set())
            check(gbytes in ok_bytes, "bytes logged for %s: %r, response body had %d"
                  % (line, gbytes, nbytes))
            eq(gref, ref, "Referer logged for %s" % line)
    finally:
        srv.cleanup()
        shutil.rmtree(d, ignore_errors=True)
