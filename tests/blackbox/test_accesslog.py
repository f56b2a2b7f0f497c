# SPDX-License-Identifier: BSD-2-Clause
"""--access-log FILE: one Combined Log Format line per request, written out
by the time a SIGTERM stop completes, with quotes in Referer and User-Agent
escaped as \\"."""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import harness
from harness import check, connect, eq, get, req

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


# $request_time, $upstream_time, $request_id, $msec and $server_protocol;
# request_id_header (top level, and "off" in a vhost); REQUEST_ID for scripts.
ID_SCRIPT = (b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s' \"$REQUEST_ID\"\n")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_request_time_upstream_time_request_id_and_msec(ctx):
    cd = harness.ConfDir({"site/file.txt": b"plain file\n", "site/cgi-bin/id.sh": ID_SCRIPT,
                          "back/p/x.txt": b"from the upstream\n"})
    cd.mkdir("logs")
    os.chmod(cd.p("site/cgi-bin/id.sh"), 0o755)
    back = harness.start_htd(cd.p("back"))
    try:
        conf = ('root = "site";\naccess_log = "logs/access.log";\n'
                'log_format = "$request_uri|$status|$request_time|$upstream_time|$request_id|'
                '$msec|$server_protocol";\nrequest_id_header = "X-Request-Id";\n'
                'vhosts = ( { names = ["quiet.test"]; root = "site"; '
                'request_id_header = "off"; } );\n')
        extra = ["--cgi", "/cgi-bin/", "--proxy", "/p/=http://%s:%d" % back.addr]
        ids = {}
        with harness.config_server(conf, extra=extra, confdir=cd) as srv:
            t0 = time.time()
            for target in ("/file.txt", "/nothing", "/cgi-bin/id.sh", "/p/x.txt"):
                r = get(srv, target)
                ids[target] = r.get("X-Request-Id")
                check(ids[target] and HEX32.match(ids[target]),
                      "%s: X-Request-Id %r" % (target, ids[target]))
            eq(get(srv, "/cgi-bin/id.sh").status, 200, "a second script")
            r = get(srv, "/cgi-bin/id.sh?again")
            eq(r.body.decode(), r.get("X-Request-Id"), "REQUEST_ID is the header's id")
            ids["/cgi-bin/id.sh?again"] = r.get("X-Request-Id")
            r = get(srv, "/file.txt?quiet", host="quiet.test")
            eq((r.status, r.get("X-Request-Id")), (200, None), "request_id_header = off")
            # a head that takes 0.4 s to arrive
            c = connect(srv)
            c.send(b"GET /file.txt?slow HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.4)
            c.send(b"\r\n")
            eq(c.read_response().status, 200, "the slow head's response")
            c.close()
            t1 = time.time()
        text = harness.read_file(cd.p("logs/access.log")) or ""
        lines = {}
        for l in text.splitlines():
            f = l.split("|")
            eq(len(f), 7, "fields in %r" % l)
            lines.setdefault(f[0], []).append(f)
        seen = set()
        for uri, fs in lines.items():
            for f in fs:
                check(re.match(r"^\d+\.\d{3}$", f[2]), "request_time %r" % f[2])
                check(HEX32.match(f[4]), "request_id %r" % f[4])
                check(f[4] not in seen, "request ids are unique: %r twice" % f[4])
                seen.add(f[4])
                check(re.match(r"^\d+\.\d{3}$", f[5]) and t0 - 1 <= float(f[5]) <= t1 + 1,
                      "msec %r between %.3f and %.3f" % (f[5], t0, t1))
                eq(f[6], "HTTP/1.1", "server_protocol")
                if uri == "/p/x.txt":
                    check(re.match(r"^\d+\.\d{3}$", f[3]) and float(f[3]) < 5,
                          "upstream_time of a proxied request: %r" % f[3])
                else:
                    eq(f[3], "-", "upstream_time of %s" % uri)
        for target, rid in ids.items():
            check(rid in [f[4] for f in lines.get(target, [])],
                  "the id %s of %s in the log %r" % (rid, target, text[:3000]))
        slow = float(lines["/file.txt?slow"][0][2])
        check(0.35 <= slow < 5, "request_time of a head that took 0.4 s: %r" % slow)
        check(float(lines["/file.txt"][0][2]) < 0.35, "request_time of a quick request")
    finally:
        back.stop()
        back.cleanup()
        cd.cleanup()


# User-Agents a client may send (no CR, LF or NUL, which end or break a head).
HOSTILE = [
    b'quote " and backslash \\ and \\" both',
    b"tab\there",
    b"invalid \xff\xfe utf-8",
    b"overlong \xc0\xaf slash and \xe0\x80\xaf",
    b"surrogate \xed\xa0\x80 and past U+10FFFF \xf4\x90\x80\x80",
    b"truncated \xe2\x82",
    b"\\u0000 and \\n as text",
    "valid h\u00e9llo \u2713 \U0001f600".encode(),
    b"}{\"],[:null,",
    (b'long "x" \\ \xc3\xa9 \xff ' * 250)[:3999],  # no space at its end (htd trims it)
]


def json_lines(path):
    with open(path, "rb") as f:
        raw = f.read()
    check(raw.endswith(b"\n"), "the log ends with a newline: %r" % raw[-200:])
    out = []
    for l in raw.split(b"\n")[:-1]:
        try:
            out.append(json.loads(l.decode("utf-8")))  # strict: valid UTF-8 only
        except ValueError as e:
            harness.fail("not a JSON line (%s): %r" % (e, l[:3000]))
    return out


def test_json_format_lines_parse_for_hostile_user_agents(ctx):
    cd = harness.ConfDir({"site/file.txt": b"plain file\n"})
    cd.mkdir("logs")
    try:
        conf = 'root = "site";\naccess_log = "logs/access.log";\nlog_format = "json";\n'
        with harness.config_server(conf, confdir=cd) as srv:
            t0 = time.time()
            for i, ua in enumerate(HOSTILE):
                r = get(srv, "/file.txt?n=%d" % i, headers=[("User-Agent", ua.decode("latin-1"))])
                eq(r.status, 200, "user agent %d: status" % i)
            r = get(srv, "/file.txt?head", "HEAD",
                    headers=[("User-Agent", "head"), ("Referer", "http://r/\"x\"")])
            eq(r.status, 200, "HEAD")
            r = get(srv, "/nothing?x", headers=[harness.basic("us\"er", "pw")])
            eq(r.status, 404, "404")
            # a request line that does not parse, control and invalid bytes in it
            r, c = harness.exchange(srv, b"GET /a\x01\x7f\xff\"\\ HTTP/1.1\r\n\r\n")
            c.close()
            eq(r.status, 400, "a bad request line")
            t1 = time.time()
        objs = json_lines(cd.p("logs/access.log"))
        eq(len(objs), len(HOSTILE) + 3, "lines")
        by_uri = {o["request_uri"]: o for o in objs}
        for i, ua in enumerate(HOSTILE):
            o = by_uri.get("/file.txt?n=%d" % i)
            check(o is not None, "no line for user agent %d in %r" % (i, list(by_uri)))
            eq(o["user_agent"], ua.decode("utf-8", "replace"), "user agent %d" % i)
            eq((o["status"], o["body_bytes_sent"], o["request_method"], o["server_protocol"]),
               (200, 11, "GET", "HTTP/1.1"), "numbers and request of %d" % i)
            eq(o["request"], "GET /file.txt?n=%d HTTP/1.1" % i, "request")
            eq((o["remote_addr"], o["remote_user"], o["referer"], o["upstream_time"]),
               ("127.0.0.1", "", "", None), "absent fields of %d" % i)
            check(isinstance(o["request_time"], float) and 0 <= o["request_time"] < 5,
                  "request_time %r" % o["request_time"])
            check(isinstance(o["msec"], float) and t0 - 1 <= o["msec"] <= t1 + 1,
                  "msec %r" % o["msec"])
            check(HEX32.match(o["request_id"]), "request_id %r" % o["request_id"])
            datetime.datetime.fromisoformat(o["time"])
        o = by_uri["/file.txt?head"]
        eq((o["request_method"], o["body_bytes_sent"], o["referer"]), ("HEAD", 0, 'http://r/"x"'),
           "HEAD: a numeric 0 for no body")
        o = by_uri["/nothing?x"]
        eq((o["status"], o["remote_user"]), (404, 'us"er'), "404 and its user")
        bad = [o for o in objs if o["status"] == 400]
        eq(len(bad), 1, "one 400 line")
        eq(bad[0]["request"], 'GET /a\x01\x7f\ufffd"\\ HTTP/1.1', "the raw line, escaped")
        eq(bad[0]["request_method"], "", "no method for a line that did not parse")
    finally:
        cd.cleanup()


def test_escape_json_template_absent_values_and_a_bad_format(ctx):
    cd = harness.ConfDir({"site/file.txt": b"plain file\n"})
    cd.mkdir("logs")
    try:
        conf = ('root = "site";\naccess_log = "logs/access.log";\n'
                'log_format = "escape=json {\\"ua\\":\\"$http_user_agent\\",\\"ref\\":'
                '\\"$http_referer\\",\\"up\\":$upstream_time,\\"b\\":$body_bytes_sent,'
                '\\"s\\":$status}";\n')
        with harness.config_server(conf, confdir=cd) as srv:
            for ua in HOSTILE:
                eq(get(srv, "/file.txt", headers=[("User-Agent", ua.decode("latin-1"))]).status,
                   200, "status")
            eq(get(srv, "/file.txt", "HEAD").status, 200, "HEAD")
        objs = json_lines(cd.p("logs/access.log"))
        eq(len(objs), len(HOSTILE) + 1, "lines")
        gets = [o for o in objs if o["b"] == 11]
        eq(sorted(o["ua"] for o in gets), sorted(u.decode("utf-8", "replace") for u in HOSTILE),
           "user agents")
        for o in gets:
            eq((o["ref"], o["up"], o["s"]), ("", None, 200),
               "an absent value inside quotes, a bare one, a number")
        eq([(o["b"], o["ua"]) for o in objs if o["b"] != 11], [(0, "")], "HEAD: no body, 0")
    finally:
        cd.cleanup()
    p = subprocess.run([harness.HTD, "--check-config", "/dev/stdin"], input=b'root = ".";\n'
                       b'log_format = "escape=json $nope";\n', capture_output=True)
    eq(p.returncode, 2, "an unknown variable in an escape=json format")


def test_escape_json_quotes_strings_outside_quotes_and_says_null(ctx):
    cd = harness.ConfDir({"site/file.txt": b"plain file\n"})
    cd.mkdir("logs")
    try:
        conf = ('root = "site";\naccess_log = "logs/access.log";\nlog_format = "escape=json '
                '[$remote_addr,$request,$http_user_agent,$status,$http_x_none,$request_time]";\n')
        with harness.config_server(conf, confdir=cd) as srv:
            eq(get(srv, "/file.txt?a=\"b\"", headers=[("User-Agent", 'ua "q" \\')]).status, 200,
               "status")
        objs = json_lines(cd.p("logs/access.log"))
        eq(len(objs), 1, "lines")
        eq(objs[0][:5], ["127.0.0.1", 'GET /file.txt?a="b" HTTP/1.1', 'ua "q" \\', 200, None],
           "strings quoted, numbers bare, null for nothing")
        check(isinstance(objs[0][5], float), "request_time a number: %r" % objs[0])
    finally:
        cd.cleanup()
