# SPDX-License-Identifier: BSD-2-Clause
"""Basic authentication from htpasswd files made by the real tools at test
time: bcrypt (htpasswd -B), sha512-crypt (-5), sha256-crypt (-2) and yescrypt
(mkpasswd). For each: 401 with the exact WWW-Authenticate without, with wrong
and with malformed credentials, 200 with the right ones. Also auth = "off"
under a protected prefix, access before auth before redirect, the user in the
access log, pipelined requests answered in order, and static files answered
at once while slow bcrypt checks are in flight (they run off the event loop)."""

import base64
import os
import signal
import socket
import statistics
import time

import harness
from harness import (ConfDir, basic, check, check_error, config_server, connect, eq, get, req)

SECRET = b"secret contents\n"
PLAIN = b"plain\n"
SITE = {"site/plain.txt": PLAIN}
for _d in ("bcrypt", "sha512", "sha256", "yescrypt", "redir", "both"):
    SITE["site/%s/secret.txt" % _d] = SECRET
SITE["site/bcrypt/public/x.txt"] = b"public\n"

USERS = [("alice", "alice-pw"), ("bob", "b:o:b"), ("zoë", "pässwörd")]


def make_htpasswd(cd, kind, users=USERS, cost=None):
    """Writes KIND.htpasswd in cd with the tool for that hash; returns its name."""
    name = "%s.htpasswd" % kind
    path = cd.p(name)
    if kind == "yescrypt":
        lines = ["# made with mkpasswd -m yescrypt", ""]
        for u, pw in users:
            h = harness.tool(["mkpasswd", "-m", "yescrypt", pw], "apt-get install whois").strip()
            check(h.startswith("$y$"), "mkpasswd gave %r" % h)
            lines.append("%s:%s" % (u, h))
        cd.write(name, "\n".join(lines) + "\n")
        return name
    flag = {"bcrypt": "B", "sha512": "5", "sha256": "2"}[kind]
    prefix = {"bcrypt": "$2y$", "sha512": "$6$", "sha256": "$5$"}[kind]
    for i, (u, pw) in enumerate(users):
        argv = ["htpasswd", "-b" + flag + ("c" if i == 0 else "")]
        if cost:
            argv += ["-C", str(cost)]
        harness.tool(argv + [path, u, pw], "apt-get install apache2-utils")
    text = cd.read(name).decode()
    check(all(l.split(":", 1)[1].startswith(prefix) for l in text.splitlines() if l),
          "htpasswd -%s made %r" % (flag, text))
    return name


def auth_conf(kind):
    return '''root = "site";
access_log = "logs/access.log";
log_format = "$remote_user $status $request_uri";
rules = (
  { prefix = "/%(k)s/"; auth = { realm = "%(k)s area"; htpasswd = "%(k)s.htpasswd"; }; },
  { prefix = "/bcrypt/public/"; auth = "off"; },
  { prefix = "/redir/"; auth = { realm = "R"; htpasswd = "%(k)s.htpasswd"; }; redirect = "/after/$1"; },
  { prefix = "/both/"; access = ["deny all"]; auth = { realm = "R"; htpasswd = "%(k)s.htpasswd"; }; }
);
''' % {"k": kind}


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode()


def check_401(r, realm, what):
    eq(r.status, 401, "status for %s (head %r)" % (what, r.head_raw))
    check_error(r, 401)
    eq(r.get_all("WWW-Authenticate"), ['Basic realm="%s", charset="UTF-8"' % realm],
       "WWW-Authenticate for %s" % what)
    check(('\r\nWWW-Authenticate: Basic realm="%s", charset="UTF-8"\r\n' % realm).encode()
          in r.head_raw, "WWW-Authenticate line byte-exact for %s: %r" % (what, r.head_raw))


def check_format(kind):
    cd = ConfDir(SITE)
    cd.mkdir("logs")
    try:
        make_htpasswd(cd, kind)
        realm = "%s area" % kind
        path = "/%s/secret.txt" % kind
        with config_server(auth_conf(kind), confdir=cd) as srv:
            check_401(get(srv, path), realm, "no credentials")
            r = get(srv, path, "HEAD")
            eq((r.status, r.get("WWW-Authenticate")),
               (401, 'Basic realm="%s", charset="UTF-8"' % realm), "HEAD without credentials")
            check_401(get(srv, path, headers=[basic("alice", "wrong")]), realm, "a wrong password")
            check_401(get(srv, path, headers=[basic("alice", "alice-pw ")]), realm,
                      "the password with a trailing space")
            check_401(get(srv, path, headers=[basic("mallory", "alice-pw")]), realm,
                      "an unknown user")
            check_401(get(srv, path, headers=[basic("bob", "alice-pw")]), realm,
                      "another user's password")
            check_401(get(srv, path, headers=[basic("", "")]), realm, "an empty user and password")
            for value in ("Basic !!!not-base64!!!", "Basic " + b64("nocolon"), "Bearer x",
                          "Basic", "Basic " + b64("alice:alice-pw")[:-2], "Digest username=alice",
                          "Basic " + b64("alice:alice-pw") + " extra"):
                check_401(get(srv, path, headers=[("Authorization", value)]), realm,
                          "Authorization: %s" % value)
            for u, pw in USERS:
                r = get(srv, path, headers=[basic(u, pw)])
                eq((r.status, r.body), (200, SECRET), "%s with the right password" % u)
                eq(r.get_all("WWW-Authenticate"), [], "no WWW-Authenticate on a 200")
            r = get(srv, path, headers=[("Authorization", "basic " + b64("alice:alice-pw"))])
            eq(r.status, 200, "the scheme is case-insensitive (RFC 9110 11.1)")
            # a verified credential is cached: a wrong one right after is still refused
            check_401(get(srv, path, headers=[basic("alice", "alice-pW")]), realm,
                      "a wrong password after the right one")
            eq(get(srv, path, "HEAD", headers=[basic("alice", "alice-pw")]).status, 200,
               "HEAD with the right password")
            eq(get(srv, "/plain.txt").status, 200, "outside the protected prefix")
        log = harness.read_file(cd.p("logs/access.log")) or ""
        check(("\nalice 200 %s\n" % path) in "\n" + log, "no 'alice 200 %s' log line: %r"
              % (path, log[:1500]))
        check(("\n- 401 %s\n" % path) in "\n" + log, "no '- 401' log line: %r" % log[:1500])
    finally:
        cd.cleanup()


def test_auth_bcrypt(ctx):
    check_format("bcrypt")


def test_auth_sha512_crypt(ctx):
    check_format("sha512")


def test_auth_sha256_crypt(ctx):
    check_format("sha256")


def test_auth_yescrypt(ctx):
    check_format("yescrypt")


def test_auth_off_under_a_protected_prefix_and_order_access_auth_redirect(ctx):
    cd = ConfDir(SITE)
    cd.mkdir("logs")
    try:
        make_htpasswd(cd, "bcrypt", USERS[:1])
        with config_server(auth_conf("bcrypt"), confdir=cd) as srv:
            r = get(srv, "/bcrypt/public/x.txt")
            eq((r.status, r.body), (200, b"public\n"), "auth = off")
            eq(get(srv, "/bcrypt/x.txt").status, 401, "the rest of the prefix is protected")
            eq(get(srv, "/bcrypt/public").status, 401, "/bcrypt/public is not /bcrypt/public/")
            r = get(srv, "/redir/a")
            check_401(r, "R", "auth before redirect")
            r = get(srv, "/redir/a", headers=[basic("alice", "alice-pw")])
            eq((r.status, r.get("Location")), (302, "/after/a"), "redirect after auth")
            r = get(srv, "/both/secret.txt")
            eq((r.status, r.get("WWW-Authenticate")), (403, None), "access before auth")
            r = get(srv, "/both/secret.txt", headers=[basic("alice", "alice-pw")])
            eq(r.status, 403, "access denies even with the right credentials")
    finally:
        cd.cleanup()


def test_remote_user_logs_the_name_sent_whether_or_not_it_was_accepted(ctx):
    # $remote_user is the user named by Basic credentials, as nginx logs it:
    # accepted, refused (the 401 of a wrong password, which comes back from
    # the pool), not checked at all (no realm, auth = off, access first), or
    # in a request the rules never saw (501); "-" without credentials or with
    # malformed ones. The log takes what the auth check takes: up to 1024
    # decoded bytes (it stopped at 512 before its decoding was the check's).
    cd = ConfDir(SITE)
    cd.mkdir("logs")
    try:
        make_htpasswd(cd, "bcrypt", USERS[:1])
        long_pw = "p" * 700
        plan = [  # (path, method, credentials, status)
            ("/bcrypt/secret.txt?n=1", "GET", [basic("alice", "alice-pw")], 200),
            ("/bcrypt/secret.txt?n=2", "GET", [basic("alice", "wrong")], 401),
            ("/bcrypt/secret.txt?n=3", "GET", [basic("mallory", "alice-pw")], 401),
            ("/bcrypt/secret.txt?n=4", "GET", [("Authorization", "Basic !!!")], 401),
            ("/bcrypt/secret.txt?n=5", "GET", [], 401),
            ("/plain.txt?n=6", "GET", [basic("carol", "anything")], 200),
            ("/bcrypt/public/x.txt?n=7", "GET", [basic("dave", "x")], 200),
            ("/both/secret.txt?n=8", "GET", [basic("alice", "alice-pw")], 403),
            ("/plain.txt?n=9", "BREW", [basic("erin", "x")], 501),
            ("/plain.txt?n=10", "GET", [basic("frank", long_pw)], 200),
            ("/plain.txt?n=11", "GET", [basic("grace", "q" * 1100)], 200),
        ]
        with config_server(auth_conf("bcrypt"), confdir=cd) as srv:
            for path, method, creds, status in plan:
                eq(get(srv, path, method, headers=creds).status, status,
                   "status of %s %s" % (method, path))
        log = "\n" + (harness.read_file(cd.p("logs/access.log")) or "")
        for want in ("alice 200 /bcrypt/secret.txt?n=1", "alice 401 /bcrypt/secret.txt?n=2",
                     "mallory 401 /bcrypt/secret.txt?n=3", "- 401 /bcrypt/secret.txt?n=4",
                     "- 401 /bcrypt/secret.txt?n=5", "carol 200 /plain.txt?n=6",
                     "dave 200 /bcrypt/public/x.txt?n=7", "alice 403 /both/secret.txt?n=8",
                     "erin 501 /plain.txt?n=9", "frank 200 /plain.txt?n=10",
                     "- 200 /plain.txt?n=11"):
            check("\n%s\n" % want in log, "no log line %r in %r" % (want, log[:2000]))
    finally:
        cd.cleanup()


def test_auth_pipelined_requests_answered_in_order(ctx):
    cd = ConfDir(SITE)
    cd.mkdir("logs")
    try:
        make_htpasswd(cd, "bcrypt", USERS[:1])
        with config_server(auth_conf("bcrypt"), confdir=cd) as srv:
            c = connect(srv)
            right = [basic("alice", "alice-pw")]
            c.send(req("/bcrypt/secret.txt", headers=right) + req("/plain.txt")
                   + req("/bcrypt/secret.txt", headers=[basic("alice", "nope")])
                   + req("/bcrypt/secret.txt", "HEAD", headers=right) + req("/plain.txt"))
            got = []
            for m in ("GET", "GET", "GET", "HEAD", "GET"):
                r = c.read_response(m)
                got.append((r.status, r.body))
            eq(got, [(200, SECRET), (200, PLAIN), (401, got[2][1]), (200, b""), (200, PLAIN)],
               "five pipelined responses in order")
            # and the connection is still usable
            c.send(req("/plain.txt"))
            eq(c.read_response().body, PLAIN, "a request after the pipelined batch")
            c.close()
            # the client half-closes right after its batch: all answered, then a close
            c = connect(srv)
            c.send(req("/bcrypt/secret.txt", headers=right) + req("/plain.txt")
                   + req("/bcrypt/secret.txt", headers=[basic("alice", "nope")]))
            c.sock.shutdown(socket.SHUT_WR)
            got = [c.read_response().status for _ in range(3)]
            eq(got, [200, 200, 401], "three pipelined, then a half-close")
            check(c.at_eof(), "closed after the batch")
            c.close()
    finally:
        cd.cleanup()


def test_static_files_fast_while_bcrypt_checks_are_in_flight(ctx):
    cd = ConfDir(SITE)
    cd.mkdir("logs")
    conns = []
    try:
        make_htpasswd(cd, "bcrypt", USERS[:1], cost=12)
        with config_server(auth_conf("bcrypt"), confdir=cd, threads=1) as srv:
            # the cost: one right check, timed
            t0 = time.monotonic()
            eq(get(srv, "/bcrypt/secret.txt", headers=[basic("alice", "alice-pw")]).status, 200,
               "right password, cost 12")
            one = time.monotonic() - t0
            fast = connect(srv, nodelay=True)
            fast.send(req("/plain.txt"))
            eq(fast.read_response().body, PLAIN, "warm-up")
            for i in range(30):
                c = connect(srv)
                c.send(req("/bcrypt/secret.txt", headers=[basic("alice", "wrong-%d" % i)]))
                conns.append(c)
            times = []
            for _ in range(20):
                t = time.monotonic()
                fast.send(req("/plain.txt"))
                r = fast.read_response()
                times.append(time.monotonic() - t)
                eq((r.status, r.body), (200, PLAIN), "static file during the checks")
            t_fast_done = time.monotonic()
            fast.close()
            last = 0
            for c in conns:
                eq(c.read_response().status, 401, "a wrong bcrypt password")
                last = time.monotonic()
            med = statistics.median(times)
            check(last > t_fast_done,
                  "the 30 checks (one took %.3f s) were over before the 20 GETs were: "
                  "nothing overlapped" % one)
            check(med < 0.050, "median static response %.1f ms while bcrypt checks ran "
                  "(max %.1f ms; one check %.0f ms): checks on the event loop?"
                  % (med * 1e3, max(times) * 1e3, one * 1e3))
    finally:
        for c in conns:
            c.close()
        cd.cleanup()


def test_auth_protects_uploads_before_any_byte_is_written(ctx):
    conf = '''root = "site";
access_log = "off";
writable = ["/docs/"];
rules = ( { prefix = "/docs/"; auth = { realm = "docs"; htpasswd = "bcrypt.htpasswd"; }; } );
'''
    cd = ConfDir(SITE)
    try:
        make_htpasswd(cd, "bcrypt", USERS[:1])
        with config_server(conf, confdir=cd) as srv:
            body = b"uploaded\n"
            put = req("/docs/a.txt", "PUT", [("Content-Length", str(len(body)))]) + body
            c = connect(srv)
            c.send(put)
            check_401(c.read_response(), "docs", "PUT without credentials")
            c.send(req("/plain.txt"))
            eq(c.read_response().body, PLAIN, "the connection goes on after the 401 and its body")
            c.close()
            eq(harness.exchange(srv, req("/docs/a.txt", "PUT", [("Content-Length", "9"),
                                                                 basic("alice", "nope")])
                                + body)[0].status, 401, "PUT with a wrong password")
            # Expect: 100-continue without credentials: the 401 at once, no 100
            c = connect(srv)
            c.send(req("/docs/b.txt", "PUT", [("Content-Length", "9"),
                                              ("Expect", "100-continue")]))
            r = c.read_response()
            eq(r.status, 401, "the final status instead of 100 Continue")
            c.close()
            check(not os.path.exists(cd.p("site/docs/a.txt")) and
                  not os.path.exists(cd.p("site/docs/b.txt")), "a refused PUT wrote a file")
            r, c = harness.exchange(srv, req("/docs/a.txt", "PUT", [
                ("Content-Length", "9"), basic("alice", "alice-pw")]) + body)
            c.close()
            eq(r.status, 201, "PUT with the right password")
            eq(cd.read("site/docs/a.txt"), body, "the document")
            eq(get(srv, "/docs/a.txt", "DELETE").status, 401, "DELETE without credentials")
            eq(cd.read("site/docs/a.txt"), body, "still there")
    finally:
        cd.cleanup()


def test_clients_leaving_reload_and_stop_while_checks_are_in_flight(ctx):
    cd = ConfDir(SITE)
    cd.mkdir("logs")
    conns = []
    try:
        # cost 10, some 60 ms a check: enough to have them in flight at the
        # reload and the stop, and the 15 of them done well inside the
        # test's patience on a loaded machine under ASan (cost 12 took 6 s
        # of its 10 there)
        make_htpasswd(cd, "bcrypt", USERS[:1], cost=10)
        srv = harness.start_htd_config(auth_conf("bcrypt"), confdir=cd, threads=1)
        try:
            def send(n, tag):
                out = []
                for i in range(n):
                    c = connect(srv)
                    c.send(req("/bcrypt/secret.txt", headers=[basic("alice", "%s-%d" % (tag, i))]))
                    out.append(c)
                return out
            for c in send(8, "gone"):      # these leave before their answer
                c.close()
            kept = send(4, "kept")
            conns += kept
            srv.send_signal(signal.SIGHUP)  # a reload with checks in flight
            for c in kept:
                eq(c.read_response().status, 401, "an answer after a reload mid-check")
            c = connect(srv)
            c.send(req("/bcrypt/secret.txt", headers=[basic("alice", "alice-pw")]))
            conns.append(c)
            late = send(3, "late")
            conns += late
            time.sleep(0.05)
            srv.send_signal(signal.SIGTERM)  # a stop with checks in flight: they finish
            eq((lambda r: (r.status, r.body))(c.read_response()), (200, SECRET),
               "the right password, answered during the graceful stop")
            for lc in late:
                eq(lc.read_response().status, 401, "a wrong password answered during the stop")
            rc = srv.wait()
            eq(rc, 0, "exit status after SIGTERM with checks in flight (stderr %r)"
               % srv.stderr()[-800:])
            rep = srv.sanitizer_report()
            check(rep is None, "sanitizer report:\n%s" % rep)
        finally:
            srv.cleanup()
    finally:
        for c in conns:
            c.close()
        cd.cleanup()


def test_body_of_a_request_waiting_for_its_check_is_never_a_request(ctx):
    # A big response is still being written when the password check of the
    # pipelined POST behind it comes back: the POST's body (which looks like a
    # request) must stay its body, never be parsed or dropped as a request.
    cd = ConfDir(dict(SITE, **{"site/big.bin": os.urandom(16 << 20)}))
    cd.mkdir("logs")
    try:
        make_htpasswd(cd, "bcrypt", USERS[:1])
        with config_server(auth_conf("bcrypt"), confdir=cd) as srv:
            c = connect(srv)
            body = b"GET /plain.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            c.send(req("/big.bin") + req("/bcrypt/secret.txt", "POST", headers=[
                basic("alice", "alice-pw"), ("Content-Length", str(len(body)))]) + body)
            time.sleep(0.5)  # not reading: the big response waits on a full socket
            r = c.read_response()
            eq((r.status, len(r.body)), (200, 16 << 20), "the big file first")
            r = c.read_response("POST")
            eq(r.status, 405, "the POST answered (static files take no POST)")
            c.sock.settimeout(1.0)
            try:
                extra = c.sock.recv(4096)
            except socket.timeout:
                extra = b""
            eq(extra, b"", "nothing more: the POST's body was not taken for a request")
            c.close()
    finally:
        cd.cleanup()
