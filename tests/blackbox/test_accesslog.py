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


# Every kind of response logs the same request fields: a static file, a file
# compressed on the fly, a script's output, a store PUT and GET, a 404 and a
# proxied response (the upstream another htd).
ALL_FIELDS = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
              '"$http_referer" "$http_user_agent" host=$host args=$args user=$remote_user')

SCRIPT = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nscript says hi\\n'\n"


def test_every_kind_of_response_logs_the_same_request_fields(ctx):
    cd = harness.ConfDir({"site/file.txt": b"plain file\n",
                          "site/big.txt": b"compress me " * 400,
                          "site/cgi-bin/hi.sh": SCRIPT,
                          "site/up/.keep": b"",
                          "back/p/proxied.txt": b"from the upstream\n"})
    cd.mkdir("logs")
    os.chmod(cd.p("site/cgi-bin/hi.sh"), 0o755)
    back = harness.start_htd(cd.p("back"))
    try:
        conf = ('root = "site";\naccess_log = "logs/access.log";\nlog_format = "%s";\n'
                % ALL_FIELDS.replace('"', '\\"'))
        extra = ["--gzip", "--cgi", "/cgi-bin/", "--writable", "/up/",
                 "--proxy", "/p/=http://%s:%d" % back.addr]
        plan = [  # (name, method, target, extra headers, body, status)
            ("static", "GET", "/file.txt?a=1", [], b"", 200),
            ("gzip", "GET", "/big.txt?a=2", [("Accept-Encoding", "gzip")], b"", 200),
            ("cgi", "GET", "/cgi-bin/hi.sh?a=3", [], b"", 200),
            ("put", "PUT", "/up/doc.txt?a=4", [], b"stored body\n", 201),
            ("get", "GET", "/up/doc.txt?a=5", [], b"", 200),
            ("404", "GET", "/nothing.txt?a=6", [], b"", 404),
            ("proxy", "GET", "/p/proxied.txt?a=7", [], b"", 200),
        ]
        with harness.config_server(conf, extra=extra, confdir=cd) as srv:
            for name, method, target, hdrs, body, status in plan:
                h = hdrs + [("Referer", "http://ref.example/%s" % name),
                            ("User-Agent", "ua-%s" % name),
                            harness.basic("user-%s" % name, "pw")]
                if body or method == "PUT":
                    h.append(("Content-Length", str(len(body))))
                r, c = harness.exchange(srv, req(target, method, h, host="h-%s.test" % name,
                                                 body=body), method)
                c.close()
                check(r.status in (status, 204) if method == "PUT" else r.status == status,
                      "%s: status %d (head %r)" % (name, r.status, r.head_raw))
                if name == "gzip":
                    eq(r.get("Content-Encoding"), "gzip", "the gzip case was compressed")
        text = harness.read_file(cd.p("logs/access.log")) or ""
        lines = text.splitlines()
        eq(len(lines), len(plan), "log lines (log %r)" % text[:3000])
        for name, method, target, hdrs, body, status in plan:
            mine = [l for l in lines if '"ua-%s"' % name in l]
            eq(len(mine), 1, "one line with User-Agent ua-%s in %r" % (name, text[:3000]))
            l = mine[0]
            path, _, args = target.partition("?")
            for want in ['"%s %s HTTP/1.1"' % (method, target), '"http://ref.example/%s"' % name,
                         " host=h-%s.test " % name, " args=%s " % args,
                         " user=user-%s" % name, " - user-%s [" % name]:
                check(want in l, "%s: %r not in the line %r" % (name, want, l))
            check(l.endswith(" user=user-%s" % name), "%s: line %r" % (name, l))
    finally:
        back.stop()
        back.cleanup()
        cd.cleanup()
