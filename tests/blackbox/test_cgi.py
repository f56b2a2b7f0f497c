# SPDX-License-Identifier: BSD-2-Clause
"""CGI/1.1 scripts (RFC 3875) under --cgi prefixes, with small shell and
Python scripts written into a temporary docroot under cgi-bin/: every
meta-variable of section 4.1 checked exactly (and httpoxy: no HTTP_PROXY, no
Authorization, no header whose name has '_'), request bodies of 0 bytes,
1 MiB and chunked echoed back byte-exact, 100-continue, document, 204, 302
and Status responses, the script's own Content-Length, chunked and
close-delimited bodies, HEAD, 500 for each way a script can fail (non-zero
exit, malformed header, no header, the time limit, with its process group
killed), stderr in htd's log, 403/404, the concurrency limit (503 with
Retry-After), a client that leaves killing its script, NPH, static files
served fast while 20 slow scripts run, pipelining, a graceful stop, and
the config file's cgi settings.

Scripts that wait do so on a file the test creates (state/release, go), in
bounded loops, so nothing here sleeps longer than the behaviour it shows;
every script's pid is written to the state directory so that the test can
check it is gone and, at the end, kill whatever is left by its pid."""

import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import tempfile
import threading
import time

import harness
from harness import (check, check_error, connect, eq, fail, get, head_masked, req, wait_until)

FILE_TXT = b"a static file beside the scripts\n"

# Scripts, written with @STATE@ replaced by the state directory. A wait
# on a file is a bounded loop: 200 x 0.05 s.
WAIT_RELEASE = ('i=0; while [ ! -e @STATE@/release ] && [ $i -lt 200 ]; '
                'do sleep 0.05; i=$((i+1)); done')
SCRIPTS = {
    # the whole environment as execve gave it (not os.environ, to which
    # Python adds LC_CTYPE), and the body read from standard input
    "env.py": r'''#!/usr/bin/env python3
import json, sys
with open("/proc/self/environ", "rb") as f:
    raw = f.read()
pairs = [kv.split(b"=", 1) for kv in raw.split(b"\0") if kv]
body = sys.stdin.buffer.read()
out = json.dumps({"env": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in pairs],
                  "body": body.decode("latin-1")}).encode()
sys.stdout.buffer.write(b"Content-Type: application/json\n\n" + out)
''',
    "env.sh": r'''#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'REQUEST_METHOD=%s\n' "${REQUEST_METHOD-<unset>}"
printf 'SERVER_NAME=%s\n' "${SERVER_NAME-<unset>}"
printf 'SERVER_PORT=%s\n' "${SERVER_PORT-<unset>}"
printf 'SERVER_PROTOCOL=%s\n' "${SERVER_PROTOCOL-<unset>}"
printf 'QUERY_STRING=%s\n' "${QUERY_STRING-<unset>}"
printf 'CONTENT_LENGTH=%s\n' "${CONTENT_LENGTH-<unset>}"
printf 'CONTENT_TYPE=%s\n' "${CONTENT_TYPE-<unset>}"
printf 'SCRIPT_NAME=%s\n' "${SCRIPT_NAME-<unset>}"
printf 'PATH_INFO=%s\n' "${PATH_INFO-<unset>}"
printf 'GATEWAY_INTERFACE=%s\n' "${GATEWAY_INTERFACE-<unset>}"
''',
    "cat.sh": '''#!/bin/sh
printf 'Content-Type: application/octet-stream\\nX-Content-Length: %s\\n\\n' "${CONTENT_LENGTH-absent}"
exec cat
''',
    "catlen.sh": '''#!/bin/sh
printf 'Content-Type: application/octet-stream\\nContent-Length: %s\\n\\n' "$CONTENT_LENGTH"
exec cat
''',
    "doc.sh": '''#!/bin/sh
printf 'Content-Type: text/html; charset=utf-8\\nX-Script: doc\\n\\n<p>hello from doc.sh</p>\\n'
''',
    "hello.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\nhello\\n'
''',
    "len.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\r\\nContent-Length: 6\\r\\n\\r\\nhello\\n'
''',
    "short.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\nContent-Length: 10\\n\\nabc'
''',
    "over.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\nContent-Length: 3\\n\\nabcdef'
''',
    "nobody.sh": '''#!/bin/sh
printf 'X-Done: yes\\n\\n'
''',
    "redirect.sh": '''#!/bin/sh
printf 'Location: http://example.org/elsewhere?a=1\\n\\n'
''',
    "local.sh": '''#!/bin/sh
printf 'Location: /file.txt\\n\\n'
''',
    "teapot.py": '''#!/usr/bin/env python3
import sys
sys.stdout.write("Status: 418 I'm a teapot\\nContent-Type: text/plain\\n\\nshort and stout\\n")
''',
    "notfound.sh": '''#!/bin/sh
printf 'Status: 404 Not Found\\nContent-Type: text/plain\\n\\nno such record\\n'
''',
    "stream.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
printf 'first part\\n'
i=0; while [ ! -e @STATE@/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
printf 'second part\\n'
''',
    "exit3.sh": '''#!/bin/sh
echo 'about to fail' >&2
exit 3
''',
    "badheader.sh": '''#!/bin/sh
printf 'this line has no colon\\n\\nbody\\n'
''',
    "notype.sh": '''#!/bin/sh
printf 'X-A: b\\n\\na body without a Content-Type\\n'
''',
    "badstatus.sh": '''#!/bin/sh
printf 'Status: abc\\nContent-Type: text/plain\\n\\nbody\\n'
''',
    "noblank.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n'
''',
    "silent.sh": '''#!/bin/sh
exit 0
''',
    "stderr.sh": '''#!/bin/sh
echo 'first warning' >&2
printf 'Content-Type: text/plain\\n\\nok\\n'
echo 'second warning' >&2
printf 'no newline at the end' >&2
''',
    # past the time limit: the script and a child of its own, both pids noted
    "slow.sh": '''#!/bin/sh
echo $$ > @STATE@/slow.pid
sleep 30 &
echo $! > @STATE@/slow.child
wait
''',
    "slowbody.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\nstarted\\n'
echo $$ > @STATE@/slowbody.pid
exec sleep 30
''',
    "hold.sh": '''#!/bin/sh
echo $$ > @STATE@/hold.$QUERY_STRING.pid
''' + WAIT_RELEASE + '''
printf 'Content-Type: text/plain\\n\\nreleased %s\\n' "$QUERY_STRING"
''',
    "sleeper.sh": '''#!/bin/sh
echo $$ > @STATE@/sleeper.$QUERY_STRING.pid
exec sleep 30
''',
    "sleeper-head.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\nstarted\\n'
echo $$ > @STATE@/sleeper-head.pid
exec sleep 30
''',
    "slow3.sh": '''#!/bin/sh
echo $$ > @STATE@/slow3.$QUERY_STRING.pid
sleep 3
printf 'Content-Type: text/plain\\n\\nslow %s\\n' "$QUERY_STRING"
''',
    "nph-raw.sh": '''#!/bin/sh
printf 'HTTP/1.1 299 Made Up\\r\\nX-Nph: yes\\r\\nthis is no header at all\\r\\n\\r\\nraw body\\n'
''',
    "ignore.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\nignored the body\\n'
''',
    "big.sh": '''#!/bin/sh
printf 'Content-Type: application/octet-stream\\n\\n'
exec cat @STATE@/big.bin
''',
    "fds.py": '''#!/usr/bin/env python3
import os
out = []
for fd in os.listdir("/proc/self/fd"):
    try:
        out.append("%s %s" % (fd, os.readlink("/proc/self/fd/" + fd)))
    except OSError:
        pass   # the directory listdir had open
print("Content-Type: text/plain\\n\\n" + "\\n".join(sorted(out)))
''',
    "badinterp.sh": '''#!/nonexistent/interpreter
''',
    "closeout.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\nbye\\n'
exec >&- 2>&-
echo $$ > @STATE@/closeout.pid
''' + WAIT_RELEASE + '''
''',
    ".hidden.sh": '''#!/bin/sh
printf 'Content-Type: text/plain\\n\\nhidden\\n'
''',
}
NOEXEC = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nnot executable\\n'\n"
OUTSIDE_SCRIPT = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\noutside the root\\n'\n"

_VERSION = []


def server_software():
    """'htd/VERSION', from `htd --version`."""
    if not _VERSION:
        out = harness.run_htd(["--version"]).stdout.decode().splitlines()[0].split()
        check(len(out) >= 2 and out[0] == "htd", "htd --version said %r" % out)
        _VERSION.append("htd/" + out[1])
    return _VERSION[0]


class Site:
    """A docroot with cgi-bin/ full of scripts, a state directory they
    write their pids to, and an htd serving it with --cgi /cgi-bin/."""

    def __init__(self, extra=(), threads=2, cgi=("/cgi-bin/",), prefix=()):
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="htd-cgi-root-"))
        self.state = os.path.realpath(tempfile.mkdtemp(prefix="htd-cgi-state-"))
        self.outside = os.path.realpath(tempfile.mkdtemp(prefix="htd-cgi-outside-"))
        for d in (self.root, self.state, self.outside):
            os.chmod(d, 0o755)
        self.srv = None
        try:
            self.write("file.txt", FILE_TXT, 0o644)
            for name, text in SCRIPTS.items():
                self.write("cgi-bin/" + name, text.replace("@STATE@", self.state))
            self.write("cgi-bin/noexec.sh", NOEXEC, 0o644)
            self.write("cgi-bin/noshebang.sh", b"no interpreter line, no binary\n", 0o755)
            self.write("cgi-bin/sub/readme.txt", b"a directory under cgi-bin\n", 0o644)
            out = os.path.join(self.outside, "out.sh")
            with open(out, "wb") as f:
                f.write(OUTSIDE_SCRIPT)
            os.chmod(out, 0o755)
            os.symlink(out, os.path.join(self.root, "cgi-bin", "link-out.sh"))
            argv = []
            for p in cgi:
                argv += ["--cgi", p]
            self.srv = harness.start_htd(self.root, extra=argv + list(extra), threads=threads,
                                         prefix=prefix)
        except BaseException:
            self.cleanup()
            raise

    def write(self, rel, data, mode=0o755):
        if isinstance(data, str):
            data = data.encode()
        full = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        os.chmod(full, mode)
        return full

    def p(self, name):
        return os.path.join(self.state, name)

    def touch(self, name):
        with open(self.p(name), "wb"):
            pass

    def pid(self, name, timeout=None):
        """Waits for the script to write its pid to state/NAME; returns it."""
        def read():
            try:
                with open(self.p(name)) as f:
                    t = f.read()
            except FileNotFoundError:
                return None
            return int(t) if t.endswith("\n") else None
        return wait_until(read, timeout, "the script's pid in %s" % name)

    def script_pids(self):
        out = []
        for n in os.listdir(self.state):
            if n.endswith(".pid") or n.endswith(".child"):
                try:
                    with open(self.p(n)) as f:
                        out.append(int(f.read()))
                except (OSError, ValueError):
                    pass
        return out

    def ours(self, pid):
        """True if pid is a live process running in our cgi-bin (a script's
        cwd), so that a recycled pid is never killed."""
        try:
            return os.readlink("/proc/%d/cwd" % pid).startswith(self.root)
        except OSError:
            return False

    def close(self, passed):
        """Releases waiting scripts, stops htd (SIGTERM), requires exit 0
        and no sanitizer report when the test passed, then kills any
        script still alive, by pid, and removes the directories."""
        rc = rep = err = None
        try:
            self.touch("release")
            self.touch("go")
            if self.srv is not None:
                rc = self.srv.stop()
                rep = self.srv.sanitizer_report()
                err = self.srv.stderr()
        finally:
            self.cleanup()
        if passed and self.srv is not None:
            check(rep is None, "sanitizer report on stderr:\n%s" % rep)
            eq(rc, 0, "exit status after SIGTERM (stderr tail %r)" % (err or "")[-800:])

    def cleanup(self):
        if self.srv is not None:
            self.srv.cleanup()
        for pid in self.script_pids():
            for p in [pid] + harness.group_members(pid):
                if not harness.proc_dead(p) and self.ours(p):
                    harness.kill_pid(p)
        for d in (self.root, self.state, self.outside):
            shutil.rmtree(d, ignore_errors=True)


def why_dead(srv):
    """The start of a sanitizer report on srv's stderr, or its tail."""
    rep = srv.sanitizer_report()
    return ("sanitizer report:\n" + rep[:2500]) if rep else "stderr tail: %r" % srv.stderr()[-1500:]


class site:
    """`with site(extra=[...]) as s:` a Site, closed on the way out."""

    def __init__(self, **kw):
        self.s = Site(**kw)

    def __enter__(self):
        return self.s

    def __exit__(self, etype, e, tb):
        srv = self.s.srv
        died = None
        if etype is not None and srv is not None and not srv.alive():
            died = "htd exited with status %s during the test; %s" % (srv.proc.returncode, why_dead(srv))
        self.s.close(etype is None)
        if died and issubclass(etype, AssertionError):
            raise harness.TestFailure("%s\n%s" % (e, died)) from e
        return False


def env_of(r):
    """The script's environment from env.py's answer, as a dict; fails on a
    name given twice."""
    eq(r.status, 200, "env.py's status (head %r, body %r)" % (r.head_raw, r.body[:300]))
    d = json.loads(r.body.decode())
    env = {}
    for k, v in d["env"]:
        check(k not in env, "%s given twice in the environment" % k)
        env[k] = v
    return env, d["body"].encode("latin-1")


def shell_env(r):
    eq(r.status, 200, "env.sh's status (head %r)" % r.head_raw)
    return dict(l.split("=", 1) for l in r.body.decode().splitlines())


# Every name htd may give a script besides HTTP_*: RFC 3875 4.1 and the
# usual extensions. Anything else came from htd's own environment.
CGI_NAMES = {"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO",
             "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT",
             "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT",
             "SERVER_PROTOCOL", "SERVER_SOFTWARE", "REQUEST_URI", "SCRIPT_FILENAME",
             "DOCUMENT_ROOT", "REMOTE_PORT", "SERVER_ADDR", "PATH",
             "REQUEST_ID"}  # htd's: the id its logs give the request


# --------------------------------------------------------------------------
# meta-variables

def test_cgi_meta_variables_of_a_get_with_path_info_and_query(ctx):
    # htd's own environment has HTTP_PROXY and a variable of its own: neither
    # may reach the script
    with site(prefix=["env", "HTTP_PROXY=http://leak.invalid:3128", "HTD_TEST_LEAK=leaked"]) as s:
        c = connect(s.srv)
        target = "/cgi-bin/env.py/extra/a%20b?x=1&y=%41+z"
        c.send(req(target, host="www.example.test:8080", headers=[
            ("X-Foo", "a"), ("X-Foo", "b"), ("x-foo", "c"), ("X-Real", "right"),
            ("X_Real", "spoofed"), ("Proxy", "http://evil.invalid:8888"),
            ("Authorization", "Basic YWxpY2U6c2VjcmV0"), ("User-Agent", "cgi-test/1.0"),
            ("Accept", "*/*")]))
        r = c.read_response()
        env, body = env_of(r)
        eq(body, b"", "standard input of a GET")
        want = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": server_software(),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": "x=1&y=%41+z",          # as sent, not decoded
            "SCRIPT_NAME": "/cgi-bin/env.py",
            "PATH_INFO": "/extra/a b",             # decoded (4.1.5)
            "PATH_TRANSLATED": s.root + "/extra/a b",
            "SERVER_NAME": "www.example.test",      # the Host, without its port
            "SERVER_PORT": str(s.srv.port),         # the port the request came to
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": str(c.sock.getsockname()[1]),
            "REQUEST_URI": target,
            "SCRIPT_FILENAME": s.root + "/cgi-bin/env.py",
            "DOCUMENT_ROOT": s.root,
            "HTTP_HOST": "www.example.test:8080",
            "HTTP_X_FOO": "a, b, c",                # repeated fields joined with ", "
            "HTTP_X_REAL": "right",                 # not X_Real's value
            "HTTP_USER_AGENT": "cgi-test/1.0",
            "HTTP_ACCEPT": "*/*",
        }
        for k, v in want.items():
            eq(env.get(k), v, k)
        for k in ("HTTP_PROXY", "HTTP_AUTHORIZATION", "CONTENT_LENGTH", "CONTENT_TYPE",
                  "AUTH_TYPE", "REMOTE_USER", "HTD_TEST_LEAK"):
            check(k not in env, "%s must not be set: %r" % (k, env.get(k)))
        check("spoofed" not in env.values(),
              "the value of X_Real (a name with '_') reached the script: %r"
              % [k for k, v in env.items() if v == "spoofed"])
        check("http://evil.invalid:8888" not in env.values(), "the Proxy header reached the script")
        others = sorted(k for k in env if k not in CGI_NAMES and not k.startswith("HTTP_"))
        eq(others, [], "variables that are neither CGI's nor HTTP_* (from htd's environment?)")
        # the connection goes on
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "a static file after the script, same connection")
        c.close()


def test_cgi_meta_variables_of_an_http10_post_without_host_query_or_path_info(ctx):
    with site() as s:
        body = b"a=1&b=%20"
        r, c = harness.exchange(s.srv, req("/cgi-bin/env.py", "POST", version="HTTP/1.0", host=None,
                                           headers=[("Content-Type", "application/x-www-form-urlencoded"),
                                                    ("Content-Length", str(len(body)))]) + body)
        c.close()
        env, got = env_of(r)
        eq(got, body, "the body on standard input")
        eq(env.get("REQUEST_METHOD"), "POST", "REQUEST_METHOD")
        eq(env.get("SERVER_PROTOCOL"), "HTTP/1.0", "SERVER_PROTOCOL")
        eq(env.get("CONTENT_LENGTH"), str(len(body)), "CONTENT_LENGTH")
        eq(env.get("CONTENT_TYPE"), "application/x-www-form-urlencoded", "CONTENT_TYPE")
        eq(env.get("QUERY_STRING"), "", "QUERY_STRING without a query: set, empty (4.1.7)")
        check(env.get("PATH_INFO", "") == "", "PATH_INFO without path info: %r" % env.get("PATH_INFO"))
        check("PATH_TRANSLATED" not in env, "PATH_TRANSLATED without PATH_INFO must be unset (4.1.6): %r"
              % env.get("PATH_TRANSLATED"))
        eq(env.get("SERVER_NAME"), "127.0.0.1", "SERVER_NAME with no Host: the server's address")
        eq(env.get("SERVER_PORT"), str(s.srv.port), "SERVER_PORT")
        eq(env.get("GATEWAY_INTERFACE"), "CGI/1.1", "GATEWAY_INTERFACE")
        check(not any(k.startswith("HTTP_HOST") for k in env), "no Host, no HTTP_HOST")
        # a bare '?' is an empty query too
        env, _ = env_of(get(s.srv, "/cgi-bin/env.py?"))
        eq(env.get("QUERY_STRING"), "", "QUERY_STRING for a bare '?'")


def test_cgi_meta_variables_from_a_shell_script_per_method_host_and_version(ctx):
    with site() as s:
        port = str(s.srv.port)
        cases = [
            # (method, host, version, extra headers, body, expected subset)
            ("GET", "example.test", "HTTP/1.1", [], b"",
             {"REQUEST_METHOD": "GET", "SERVER_NAME": "example.test", "SERVER_PROTOCOL": "HTTP/1.1",
              "CONTENT_LENGTH": "<unset>", "CONTENT_TYPE": "<unset>", "QUERY_STRING": "",
              "PATH_INFO": "<unset>", "SCRIPT_NAME": "/cgi-bin/env.sh", "SERVER_PORT": port,
              "GATEWAY_INTERFACE": "CGI/1.1"}),
            ("GET", "[::1]:9999", "HTTP/1.1", [], b"",
             {"SERVER_NAME": "[::1]", "SERVER_PORT": port}),
            ("GET", "example.test:80", "HTTP/1.0", [], b"",
             {"SERVER_NAME": "example.test", "SERVER_PROTOCOL": "HTTP/1.0"}),
            ("PUT", "example.test", "HTTP/1.1", [("Content-Type", "text/plain"), ("Content-Length", "3")],
             b"abc", {"REQUEST_METHOD": "PUT", "CONTENT_LENGTH": "3", "CONTENT_TYPE": "text/plain"}),
            ("DELETE", "example.test", "HTTP/1.1", [], b"", {"REQUEST_METHOD": "DELETE"}),
            ("POST", "example.test", "HTTP/1.1", [("Content-Length", "0")], b"",
             {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "0", "CONTENT_TYPE": "<unset>"}),
            ("POST", "example.test", "HTTP/1.1", [("Transfer-Encoding", "chunked")], b"3\r\nabc\r\n0\r\n\r\n",
             {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "<unset>"}),
        ]
        for method, host, version, hdrs, body, want in cases:
            r = get(s.srv, "/cgi-bin/env.sh", method, headers=hdrs, host=host, version=version, body=body)
            env = shell_env(r)
            for k, v in want.items():
                eq(env.get(k), v, "%s for %s %s Host: %s" % (k, method, version, host))
        env = shell_env(get(s.srv, "/cgi-bin/env.sh/p/q?z"))
        eq((env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]), ("/cgi-bin/env.sh", "/p/q", "z"),
           "SCRIPT_NAME, PATH_INFO, QUERY_STRING")
        # absolute-form: the target's authority, not Host (RFC 9112 3.2.2)
        r, c = harness.exchange(s.srv, b"GET http://other.test:81/cgi-bin/env.sh?q HTTP/1.1\r\n"
                                b"Host: x.test\r\n\r\n")
        c.close()
        env = shell_env(r)
        eq((env["SERVER_NAME"], env["SCRIPT_NAME"], env["QUERY_STRING"]), ("other.test", "/cgi-bin/env.sh", "q"),
           "SERVER_NAME, SCRIPT_NAME, QUERY_STRING for an absolute-form target")
        # HEAD runs the script with REQUEST_METHOD=HEAD and sends no body
        r = get(s.srv, "/cgi-bin/env.sh", "HEAD")
        eq((r.status, r.get("Content-Type"), r.body), (200, "text/plain", b""), "HEAD")


def test_cgi_every_header_reaches_the_script_or_the_request_is_refused(ctx):
    # a long PATH_INFO (it appears in four variables) and 30 headers of 300
    # bytes: a request htd's parser accepts
    with site() as s:
        hdrs = [("X-H%03d" % i, "v" * 300) for i in range(30)]
        r = get(s.srv, "/cgi-bin/env.py/" + "p" * 3000, headers=hdrs)
        if r.status != 200:
            check(r.status in (414, 431, 500), "a request too large for the environment: %d" % r.status)
            return
        env, _ = env_of(r)
        missing = ["HTTP_X_H%03d" % i for i in range(30) if env.get("HTTP_X_H%03d" % i) != "v" * 300]
        eq(missing, [], "header fields missing from the script's environment (of 30)")
        check("PATH" in env, "PATH missing from the script's environment")
        eq(env.get("PATH_INFO"), "/" + "p" * 3000, "PATH_INFO")


def test_cgi_script_gets_only_stdin_stdout_and_stderr(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/fds.py"))
        r = c.read_response()
        eq(r.status, 200, "fds.py")
        fds = dict(l.split(" ", 1) for l in r.body.decode().splitlines())
        for fd in ("0", "1", "2"):
            check(fds.get(fd, "").startswith("pipe:"), "fd %s is not a pipe: %r" % (fd, fds))
        extra = {k: v for k, v in fds.items() if k not in ("0", "1", "2") and "/proc/" not in v}
        eq(extra, {}, "descriptors of htd's that reached the script (sockets, epoll, pidfds, other pipes)")
        c.close()


def test_cgi_auth_type_and_remote_user_behind_basic_auth(ctx):
    conf = '''root = "site";
cgi = ["/cgi-bin/"];
rules = ( { prefix = "/cgi-bin/"; auth = { realm = "scripts"; htpasswd = "users.htpasswd"; }; } );
'''
    cd = harness.ConfDir({"site/cgi-bin/env.py": SCRIPTS["env.py"]})
    try:
        os.chmod(cd.p("site/cgi-bin/env.py"), 0o755)
        harness.tool(["htpasswd", "-b2c", cd.p("users.htpasswd"), "alice", "alice-pw"],
                     "apt-get install apache2-utils")
        with harness.config_server(conf, confdir=cd) as srv:
            eq(get(srv, "/cgi-bin/env.py").status, 401, "no credentials: the script does not run")
            env, _ = env_of(get(srv, "/cgi-bin/env.py", headers=[harness.basic("alice", "alice-pw")]))
            eq(env.get("AUTH_TYPE"), "Basic", "AUTH_TYPE")
            eq(env.get("REMOTE_USER"), "alice", "REMOTE_USER")
            check("HTTP_AUTHORIZATION" not in env, "the credentials reached the script")
    finally:
        cd.cleanup()


def test_cgi_remote_user_only_for_credentials_a_realm_accepted(ctx):
    # REMOTE_USER and AUTH_TYPE name the user a realm accepted, never the one
    # merely sent: a wrong password is a 401 before any script, and outside
    # every realm the script gets neither, though the log names the sender.
    conf = '''root = "site";
cgi = ["/cgi-bin/", "/open/"];
access_log = "logs/access.log";
log_format = "$remote_user $status $request_uri";
rules = ( { prefix = "/cgi-bin/"; auth = { realm = "scripts"; htpasswd = "users.htpasswd"; }; } );
'''
    cd = harness.ConfDir({"site/cgi-bin/env.py": SCRIPTS["env.py"],
                          "site/open/env.py": SCRIPTS["env.py"]})
    cd.mkdir("logs")
    try:
        os.chmod(cd.p("site/cgi-bin/env.py"), 0o755)
        os.chmod(cd.p("site/open/env.py"), 0o755)
        harness.tool(["htpasswd", "-b2c", cd.p("users.htpasswd"), "alice", "alice-pw"],
                     "apt-get install apache2-utils")
        with harness.config_server(conf, confdir=cd) as srv:
            env, _ = env_of(get(srv, "/cgi-bin/env.py?n=1",
                                headers=[harness.basic("alice", "alice-pw")]))
            eq((env.get("AUTH_TYPE"), env.get("REMOTE_USER")), ("Basic", "alice"), "accepted")
            r = get(srv, "/cgi-bin/env.py?n=2", headers=[harness.basic("alice", "wrong")])
            eq((r.status, r.get("Content-Type")), (401, "text/plain; charset=utf-8"),
               "a wrong password: htd's 401, not the script's answer")
            env, _ = env_of(get(srv, "/open/env.py?n=3", headers=[harness.basic("bob", "bob-pw")]))
            eq((env.get("AUTH_TYPE"), env.get("REMOTE_USER")), (None, None), "outside every realm")
        log = "\n" + (harness.read_file(cd.p("logs/access.log")) or "")
        for want in ("alice 200 /cgi-bin/env.py?n=1", "alice 401 /cgi-bin/env.py?n=2",
                     "bob 200 /open/env.py?n=3"):
            check("\n%s\n" % want in log, "no log line %r in %r" % (want, log[:2000]))
    finally:
        cd.cleanup()


# --------------------------------------------------------------------------
# request bodies

def test_cgi_post_of_0_bytes_echoed_as_an_empty_document(ctx):
    with site() as s:
        r, c = harness.exchange(s.srv, req("/cgi-bin/cat.sh", "POST", [("Content-Length", "0")]))
        eq(r.get("X-Content-Length"), "0", "CONTENT_LENGTH the script saw")
        eq(r.body, b"", "the echo of nothing")
        # cat.sh sent a Content-Type: a document response (RFC 3875 6.2.1),
        # so 200 with that type, even when the document is empty
        eq((r.status, r.get("Content-Type")), (200, "application/octet-stream"),
           "status and Content-Type of an empty document (head %r)" % r.head_raw)
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "the next request on the connection")
        c.close()


def test_cgi_post_of_1_mib_random_bytes_echoed_byte_exact(ctx):
    with site() as s:
        data = os.urandom(1 << 20)
        c = connect(s.srv)
        c.send(req("/cgi-bin/cat.sh", "POST", [("Content-Length", str(len(data)))]) + data)
        r = c.read_response()
        eq(r.status, 200, "status")
        eq(r.get("X-Content-Length"), str(len(data)), "CONTENT_LENGTH the script saw")
        check(r.chunked, "no length from the script on HTTP/1.1: chunked (head %r)" % r.head_raw)
        eq(len(r.body), len(data), "echoed length")
        check(r.body == data, "the echo differs from the body sent (sha256 %s vs %s)"
              % (harness.sha256(r.body), harness.sha256(data)))
        # the same with the script's own Content-Length: no chunking
        c.send(req("/cgi-bin/catlen.sh", "POST", [("Content-Length", str(len(data)))]) + data)
        r = c.read_response()
        eq((r.status, r.get("Content-Length"), r.get("Transfer-Encoding")), (200, str(len(data)), None),
           "status, Content-Length, Transfer-Encoding with the script's length")
        check(r.body == data, "the echo with Content-Length differs")
        c.close()


def test_cgi_chunked_post_of_1_mib_dechunked_and_echoed_byte_exact(ctx):
    with site() as s:
        data = os.urandom(1 << 20)
        # chunks of many sizes, one with an extension, and a trailer
        first = data[:5]
        rest = harness.chunk_encode(data[5:], [1, 2, 100, 4096, 65536, 300000, 8191])
        body = b"5;name=value\r\n" + first + b"\r\n" + rest[:-5] + b"0\r\nX-Trailer: t\r\n\r\n"
        check(rest.endswith(b"0\r\n\r\n"), "chunk_encode ends with the last chunk")
        c = connect(s.srv)
        c.send(req("/cgi-bin/cat.sh", "POST", [("Transfer-Encoding", "chunked")]) + body)
        r = c.read_response()
        eq(r.status, 200, "status")
        eq(r.get("X-Content-Length"), "absent", "CONTENT_LENGTH for a chunked body: unset")
        eq(len(r.body), len(data), "echoed length")
        check(r.body == data, "the de-chunked echo differs from the data sent")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "the next request after the chunked body")
        c.close()


def test_cgi_post_with_expect_100_continue(ctx):
    with site() as s:
        data = os.urandom(100000)
        c = connect(s.srv)
        c.send(req("/cgi-bin/cat.sh", "POST", [("Content-Length", str(len(data))),
                                               ("Expect", "100-continue")]))
        eq(c.read_exact(25), b"HTTP/1.1 100 Continue\r\n\r\n", "the interim response, exactly")
        c.send(data)
        r = c.read_response()
        eq(r.status, 200, "final status")
        check(r.body == data, "the body sent after 100 Continue, echoed")
        c.close()


def test_cgi_unread_request_body_discarded_before_the_next_request(ctx):
    with site() as s:
        data = os.urandom(1 << 20)
        c = connect(s.srv)
        c.send(req("/cgi-bin/ignore.sh", "POST", [("Content-Length", str(len(data)))]) + data
               + req("/file.txt"))
        r = c.read_response()
        eq((r.status, r.body), (200, b"ignored the body\n"), "a script that never reads its input")
        r = c.read_response()
        eq((r.status, r.body), (200, FILE_TXT), "the pipelined request after the unread 1 MiB body")
        c.send(req("/cgi-bin/ignore.sh", "POST", [("Transfer-Encoding", "chunked")])
               + harness.chunk_encode(data, [65536, 1000]) + req("/file.txt"))
        r = c.read_response()
        eq((r.status, r.body), (200, b"ignored the body\n"), "the same with a chunked body")
        r = c.read_response()
        eq((r.status, r.body), (200, FILE_TXT), "the pipelined request after the unread chunked body")
        c.close()


def test_cgi_large_output_to_a_slow_reader_arrives_whole(ctx):
    with site() as s:
        data = os.urandom(4 << 20)
        with open(s.p("big.bin"), "wb") as f:
            f.write(data)
        c = connect(s.srv, rcvbuf=4096)
        c.send(req("/cgi-bin/big.sh"))
        time.sleep(0.3)   # htd and the script meet a full socket and a full pipe
        r = c.read_response()
        eq((r.status, r.get("Transfer-Encoding")), (200, "chunked"), "head")
        body = r.body
        eq(len(body), len(data), "bytes through a 4 KiB receive buffer")
        check(body == data, "the 4 MiB differ from the script's output")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "next request on the connection")
        c.close()


# --------------------------------------------------------------------------
# responses

def test_cgi_document_response_200_head_byte_exact_and_chunked(ctx):
    with site() as s:
        r = get(s.srv, "/cgi-bin/doc.sh")
        eq(head_masked(r), b"HTTP/1.1 200 OK\r\nServer: htd\r\nDate: <date>\r\n"
           b"Content-Type: text/html; charset=utf-8\r\nX-Script: doc\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n", "head")
        harness.check_common(r)
        eq(r.body, b"<p>hello from doc.sh</p>\n", "body")
        # the Python script too, and CRLF line ends in the script's header
        r = get(s.srv, "/cgi-bin/len.sh")
        eq(head_masked(r), b"HTTP/1.1 200 OK\r\nServer: htd\r\nDate: <date>\r\n"
           b"Content-Type: text/plain\r\nContent-Length: 6\r\n\r\n", "head with the script's length")
        eq(r.body, b"hello\n", "body with the script's length")


def test_cgi_204_when_the_script_sends_neither_body_nor_location(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/nobody.sh"))
        r = c.read_response()
        eq(head_masked(r), b"HTTP/1.1 204 No Content\r\nServer: htd\r\nDate: <date>\r\n"
           b"X-Done: yes\r\n\r\n", "head: no Content-Length, Transfer-Encoding or Location")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "next request on the connection: nothing followed the 204")
        c.close()


def test_cgi_302_for_a_location_only_script(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/redirect.sh"))
        r = c.read_response()
        eq(r.status, 302, "client redirect (RFC 3875 6.2.3): status (head %r)" % r.head_raw)
        eq(r.reason, "Found", "reason")
        eq(r.get("Location"), "http://example.org/elsewhere?a=1", "Location")
        harness.check_common(r)
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "next request on the connection")
        # a local path: a 302 to it, or the document itself (6.2.2)
        c.send(req("/cgi-bin/local.sh"))
        r = c.read_response()
        check((r.status == 302 and r.get("Location") == "/file.txt") or
              (r.status == 200 and r.body == FILE_TXT),
              "Location: /file.txt gave %r %r" % (r.head_raw, r.body[:100]))
        c.close()


def test_cgi_status_header_passed_through(ctx):
    with site() as s:
        r = get(s.srv, "/cgi-bin/notfound.sh")
        eq((r.status, r.get("Content-Type"), r.body), (404, "text/plain", b"no such record\n"),
           "the script's 404: its status, type and body (not htd's error page)")
        eq(r.get_all("Status"), [], "no Status header in the response")
        r = get(s.srv, "/cgi-bin/teapot.py")
        eq((r.status, r.get("Content-Type"), r.body), (418, "text/plain", b"short and stout\n"),
           "Status: 418 from a Python script")
        eq(r.get_all("Status"), [], "no Status header in the response")
        eq(r.head_raw.split(b"\r\n", 1)[0], b"HTTP/1.1 418 I'm a teapot",
           "status line: the script's reason phrase")


def test_cgi_script_content_length_honoured_without_chunking(ctx):
    with site() as s:
        c = connect(s.srv)
        for i in range(3):
            c.send(req("/cgi-bin/len.sh"))
            r = c.read_response()
            eq((r.status, r.get("Content-Length"), r.get("Transfer-Encoding"), r.body),
               (200, "6", None, b"hello\n"), "request %d on one connection" % (i + 1))
        # more than it promised: cut at its length, and the connection goes on
        c.send(req("/cgi-bin/over.sh"))
        r = c.read_response()
        eq((r.status, r.get("Content-Length"), r.body), (200, "3", b"abc"), "cut at Content-Length: 3")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "next request after the cut body")
        c.close()
        # HTTP/1.0 keep-alive: with a length the connection may stay open
        c = connect(s.srv)
        c.send(req("/cgi-bin/len.sh", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
        r = c.read_response()
        eq((r.status, r.get("Content-Length"), r.body), (200, "6", b"hello\n"), "HTTP/1.0 keep-alive")
        eq(r.get("Connection"), "keep-alive", "Connection on an HTTP/1.0 keep-alive response")
        c.send(req("/file.txt", version="HTTP/1.0"))
        eq(c.read_response().body, FILE_TXT, "next HTTP/1.0 request")
        c.close()


def test_cgi_script_short_of_its_content_length_closes_the_connection(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/short.sh"))
        r = c.read_response("HEAD")   # the head only: the body is read raw below
        eq((r.status, r.get("Content-Length")), (200, "10"), "the script's promised length")
        eq(c.read_to_eof(), b"abc", "the 3 bytes it wrote, then the connection closes")
        c.close()


def test_cgi_chunked_response_streamed_as_the_script_writes(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/stream.sh"))
        r = c.read_response("HEAD")
        eq((r.status, r.get("Transfer-Encoding"), r.get("Content-Length")), (200, "chunked", None),
           "head of a response of unknown length")
        # the script waits for state/go after its first part: the first
        # chunk must arrive before it
        eq(c.read_exact(len(b"b\r\nfirst part\n\r\n")), b"b\r\nfirst part\n\r\n",
           "the first part, as a chunk, while the script still runs")
        s.touch("go")
        eq(c.read_exact(len(b"c\r\nsecond part\n\r\n0\r\n\r\n")), b"c\r\nsecond part\n\r\n0\r\n\r\n",
           "the second part and the last chunk")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "next request on the connection")
        c.close()


def test_cgi_chunked_responses_on_keep_alive_are_not_delayed(ctx):
    # the last chunk is a small write after the first: it must not wait for
    # the client's delayed ACK (~40 ms with Nagle's algorithm on)
    with site(threads=1) as s:
        c = connect(s.srv, nodelay=True)
        times = []
        for _ in range(10):
            t = time.monotonic()
            c.send(req("/cgi-bin/hello.sh"))
            r = c.read_response()
            times.append(time.monotonic() - t)
            eq((r.status, r.chunked, r.body), (200, True, b"hello\n"), "a chunked script response")
        c.close()
        med = statistics.median(times)
        check(med < 0.020, "median %.1f ms per chunked script response on one keep-alive connection "
              "(min %.1f ms): Nagle's algorithm holding the last chunk?" % (med * 1e3, min(times) * 1e3))


def test_cgi_http10_request_gets_a_close_delimited_body(ctx):
    with site() as s:
        for hdrs in ([], [("Connection", "keep-alive")]):
            c = connect(s.srv)
            c.send(req("/cgi-bin/doc.sh", version="HTTP/1.0", headers=hdrs))
            r = c.read_response("HEAD")
            eq((r.status, r.get("Content-Length"), r.get("Transfer-Encoding")), (200, None, None),
               "HTTP/1.0 %r: no length, no chunking (head %r)" % (hdrs, r.head_raw))
            eq(r.get("Connection"), "close", "Connection")
            eq(c.read_to_eof(), b"<p>hello from doc.sh</p>\n", "the body, ended by the close")
            c.close()


def test_cgi_http09_request_gets_the_body_alone(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(b"GET /cgi-bin/env.sh?nine\r\n")
        body = c.read_to_eof()
        c.close()
        check(body.startswith(b"REQUEST_METHOD=GET\n"), "HTTP/0.9: the body alone, no head: %r" % body[:200])
        env = dict(l.split("=", 1) for l in body.decode().splitlines())
        eq((env["SERVER_PROTOCOL"], env["QUERY_STRING"]), ("HTTP/0.9", "nine"), "SERVER_PROTOCOL, QUERY_STRING")


def test_cgi_head_gets_no_body(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/doc.sh", "HEAD") + req("/cgi-bin/len.sh", "HEAD") + req("/file.txt"))
        r = c.read_response("HEAD")
        eq((r.status, r.get("Content-Type"), r.get("X-Script")), (200, "text/html; charset=utf-8", "doc"),
           "HEAD of a document")
        r = c.read_response("HEAD")
        eq((r.status, r.get("Content-Length")), (200, "6"), "HEAD of a script with a length")
        r = c.read_response()
        eq((r.status, r.body), (200, FILE_TXT),
           "the request after two HEADs: no body bytes came before it")
        c.close()


def test_cgi_nph_script_output_passed_through_unparsed(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/nph-raw.sh"))
        eq(c.read_to_eof(), b"HTTP/1.1 299 Made Up\r\nX-Nph: yes\r\nthis is no header at all\r\n\r\n"
           b"raw body\n", "the script's bytes and nothing else, then a close")
        c.close()


def test_cgi_pipelined_requests_after_a_script_answered_in_order(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/hello.sh") + req("/file.txt")
               + req("/cgi-bin/cat.sh", "POST", [("Content-Length", "5")]) + b"12345"
               + req("/cgi-bin/len.sh") + req("/cgi-bin/nobody.sh") + req("/file.txt")
               + req("/cgi-bin/hello.sh?last"))
        got = [(r.status, r.body) for r in (c.read_response() for _ in range(7))]
        eq(got, [(200, b"hello\n"), (200, FILE_TXT), (200, b"12345"), (200, b"hello\n"), (204, b""),
                 (200, FILE_TXT), (200, b"hello\n")], "seven pipelined responses in order")
        c.close()


# --------------------------------------------------------------------------
# failures

def wait_stderr(srv, line, what):
    """Waits for an error log line on htd's stderr whose message is line."""
    wait_until(lambda: line in harness.errlog_messages(srv.stderr()), 5,
               "%r on htd's stderr (%s); stderr: %r" % (line, what, srv.stderr()[-1000:]))


def test_cgi_500_when_the_script_exits_nonzero_before_its_header(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/exit3.sh"))
        r = c.read_response()
        check_error(r, 500)
        wait_stderr(s.srv, "htd: cgi /cgi-bin/exit3.sh: about to fail", "its stderr line")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "the connection goes on after the 500")
        c.close()


def test_cgi_500_for_a_malformed_header(ctx):
    with site() as s:
        for name, what in (("badheader.sh", "a header line without a colon"),
                           ("notype.sh", "a body without Content-Type"),
                           ("badstatus.sh", "Status: abc"),
                           ("noblank.sh", "a header never ended by a blank line")):
            r = get(s.srv, "/cgi-bin/" + name)
            check_error(r, 500)
            check(b"body" not in r.body, "%s: the script's output reached the client: %r" % (what, r.body))
        err = s.srv.stderr()
        for name in ("badheader.sh", "notype.sh", "badstatus.sh", "noblank.sh"):
            check("htd: cgi /cgi-bin/%s: " % name in err, "no line for %s on stderr: %r" % (name, err[-1500:]))


def test_cgi_500_when_the_script_writes_no_header(ctx):
    with site() as s:
        r = get(s.srv, "/cgi-bin/silent.sh")
        check_error(r, 500)
        check("htd: cgi /cgi-bin/silent.sh: " in s.srv.stderr(), "a line on stderr naming the script")


def test_cgi_500_past_the_time_limit_and_its_process_group_killed(ctx):
    with site(extra=["--cgi-timeout", "1"]) as s:
        c = connect(s.srv)
        t0 = time.monotonic()
        c.send(req("/cgi-bin/slow.sh"))
        pid = s.pid("slow.pid")
        child = int(wait_until(lambda: harness.read_file(s.p("slow.child")), 5, "the child's pid").strip())
        r = c.read_response()
        dt = time.monotonic() - t0
        check_error(r, 500)
        check(0.9 <= dt <= 3.0, "the 500 came after %.2f s with --cgi-timeout 1" % dt)
        wait_until(lambda: harness.proc_state(pid) is None, 2, "the script reaped (pid %d)" % pid)
        wait_until(lambda: harness.proc_dead(child), 2, "the script's child killed (pid %d)" % child)
        eq(harness.group_members(pid), [], "live processes left in the script's group")
        wait_stderr(s.srv, "htd: cgi /cgi-bin/slow.sh: killed: it ran past its time limit", "the kill")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "the connection goes on after the 500")
        c.close()


def test_cgi_time_limit_after_the_head_cuts_the_response(ctx):
    with site(extra=["--cgi-timeout", "1"]) as s:
        c = connect(s.srv)
        t0 = time.monotonic()
        c.send(req("/cgi-bin/slowbody.sh"))
        r = c.read_response("HEAD")
        eq((r.status, r.get("Transfer-Encoding")), (200, "chunked"), "the head went out")
        rest = c.read_to_eof()
        dt = time.monotonic() - t0
        eq(rest, b"8\r\nstarted\n\r\n", "the chunk it wrote, then a close without the last chunk")
        check(0.9 <= dt <= 3.0, "closed after %.2f s with --cgi-timeout 1" % dt)
        pid = s.pid("slowbody.pid")
        wait_until(lambda: harness.proc_state(pid) is None, 2, "the script reaped (pid %d)" % pid)
        c.close()


def test_cgi_500_for_a_file_that_cannot_be_executed_and_no_slot_is_lost(ctx):
    with site(extra=["--cgi-max", "1"]) as s:
        for _ in range(3):
            for name in ("badinterp.sh", "noshebang.sh"):
                check_error(get(s.srv, "/cgi-bin/" + name), 500)
        eq(get(s.srv, "/cgi-bin/hello.sh").body, b"hello\n",
           "with --cgi-max 1, a script runs after six that could not start")
        err = s.srv.stderr()
        for name in ("badinterp.sh", "noshebang.sh"):
            check("htd: cgi /cgi-bin/%s: " % name in err, "no stderr line for %s: %r" % (name, err[-1000:]))


def test_cgi_response_ends_when_the_script_closes_its_output(ctx):
    with site() as s:
        c = connect(s.srv)
        c.send(req("/cgi-bin/closeout.sh"))
        r = c.read_response()
        eq((r.status, r.body), (200, b"bye\n"), "the answer of a script that closed its output")
        pid = s.pid("closeout.pid")
        check(not harness.proc_dead(pid), "the script should still run (it waits for state/release)")
        c.send(req("/file.txt"))
        eq(c.read_response().body, FILE_TXT, "the connection goes on while the script runs")
        s.touch("release")
        wait_until(lambda: harness.proc_state(pid) is None, 5, "the script reaped once it exits")
        c.close()


def test_cgi_stderr_lines_logged_with_the_script_name(ctx):
    with site() as s:
        r = get(s.srv, "/cgi-bin/stderr.sh")
        eq((r.status, r.body), (200, b"ok\n"), "a script that warns still answers")
        for line in ("first warning", "second warning", "no newline at the end"):
            wait_stderr(s.srv, "htd: cgi /cgi-bin/stderr.sh: " + line, "a stderr line")


def test_cgi_403_for_a_non_executable_file_and_404_for_a_missing_script(ctx):
    with site() as s:
        r = get(s.srv, "/cgi-bin/noexec.sh")
        check_error(r, 403)
        check(b"printf" not in r.body, "the script's source was served: %r" % r.body)
        for path in ("/cgi-bin/missing.sh", "/cgi-bin/missing.sh/with/path/info", "/cgi-bin/",
                     "/cgi-bin/sub/"):
            check_error(get(s.srv, path), 404)
        r = get(s.srv, "/cgi-bin/.hidden.sh")
        check_error(r, 403)
        r = get(s.srv, "/cgi-bin/link-out.sh")
        check_error(r, 403)
        check(b"outside the root" not in r.body, "a script outside the root ran")


def test_cgi_no_script_runs_through_a_symlink_to_a_dotfile(ctx):
    with site() as s:
        s.write(".tools/run.sh", SCRIPTS["hello.sh"])
        os.symlink("../.tools/run.sh", os.path.join(s.root, "cgi-bin", "run.sh"))
        os.symlink("../.tools", os.path.join(s.root, "cgi-bin", "tools"))
        os.symlink("hello.sh", os.path.join(s.root, "cgi-bin", "alias.sh"))
        url_rule = get(s.srv, "/cgi-bin/.hidden.sh")
        check_error(url_rule, 403)
        for path in ("/cgi-bin/run.sh", "/cgi-bin/tools/run.sh", "/cgi-bin/tools/run.sh/info"):
            r = get(s.srv, path)
            check_error(r, 403)
            eq(r.body, url_rule.body, "%s is refused as a dotfile's URL is" % path)
        r = get(s.srv, "/cgi-bin/alias.sh")
        eq((r.status, r.body), (200, b"hello\n"), "a link to a script that may run")


def test_cgi_a_segment_over_255_bytes_is_414_not_500(ctx):
    # found by the live fuzzer (tests/live/fuzz.py): ENAMETOOLONG was a 500
    with site() as s:
        for path in ("/cgi-bin/" + "n" * 300, "/cgi-bin/" + "n" * 300 + "/x.sh"):
            check_error(get(s.srv, path), 414)
        eq(get(s.srv, "/cgi-bin/hello.sh").status, 200, "scripts still run")


def test_cgi_prefix_is_a_path_segment_not_a_string(ctx):
    with site(cgi=("/cgi-bin",)) as s:
        os.makedirs(os.path.join(s.root, "cgi-binx"))
        src = SCRIPTS["hello.sh"].encode()
        s.write("cgi-binx/hello.sh", src)
        r = get(s.srv, "/cgi-bin/hello.sh")
        eq((r.status, r.body), (200, b"hello\n"), "--cgi /cgi-bin runs /cgi-bin/hello.sh")
        r = get(s.srv, "/cgi-binx/hello.sh")
        eq((r.status, r.body), (200, src),
           "/cgi-binx/hello.sh is outside --cgi /cgi-bin: served as a file, not run")


def test_cgi_requests_in_the_access_log(ctx):
    logdir = os.path.realpath(tempfile.mkdtemp(prefix="htd-cgi-log-"))
    try:
        log = os.path.join(logdir, "access.log")
        with site(extra=["--access-log", log]) as s:
            get(s.srv, "/cgi-bin/hello.sh")
            get(s.srv, "/cgi-bin/teapot.py")
            get(s.srv, "/cgi-bin/exit3.sh")
            get(s.srv, "/cgi-bin/cat.sh", "POST", headers=[("Content-Length", "5")], body=b"12345")
            want = ['"GET /cgi-bin/hello.sh HTTP/1.1" 200 6 ', '"GET /cgi-bin/teapot.py HTTP/1.1" 418 16 ',
                    '"GET /cgi-bin/exit3.sh HTTP/1.1" 500 ', '"POST /cgi-bin/cat.sh HTTP/1.1" 200 5 ']
            text = wait_until(lambda: (lambda t: t if t and all(w in t for w in want) else None)(
                harness.read_file(log)), 5, "four CGI lines in the access log: %r" % harness.read_file(log))
            eq(len(text.splitlines()), 4, "lines in the access log")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


# --------------------------------------------------------------------------
# limits, clients that leave, the event loop

def test_cgi_503_with_retry_after_beyond_cgi_max(ctx):
    with site(extra=["--cgi-max", "2"]) as s:
        held = []
        try:
            for i in (1, 2):
                c = connect(s.srv)
                c.send(req("/cgi-bin/hold.sh?%d" % i))
                held.append(c)
            pids = [s.pid("hold.%d.pid" % i) for i in (1, 2)]
            t0 = time.monotonic()
            r = get(s.srv, "/cgi-bin/hello.sh")
            check_error(r, 503)
            check(time.monotonic() - t0 < 1.0, "the 503 came at once")
            ra = r.get("Retry-After")
            check(ra is not None and ra.isdigit(), "Retry-After a number of seconds: %r" % ra)
            eq(get(s.srv, "/file.txt").body, FILE_TXT, "static files meanwhile")
            s.touch("release")
            for i, c in enumerate(held, 1):
                r = c.read_response()
                eq((r.status, r.body), (200, b"released %d\n" % i), "held script %d" % i)
            for pid in pids:
                wait_until(lambda: harness.proc_state(pid) is None, 2, "held script reaped")
            r = get(s.srv, "/cgi-bin/hello.sh")
            eq((r.status, r.body), (200, b"hello\n"), "a script runs again once the two are done")
        finally:
            for c in held:
                c.close()


def test_cgi_client_disconnect_kills_its_script(ctx):
    with site() as s:
        # 1. before the script wrote anything
        c = connect(s.srv)
        c.send(req("/cgi-bin/sleeper.sh?a"))
        pid = s.pid("sleeper.a.pid")
        c.close()
        t0 = time.monotonic()
        wait_until(lambda: harness.proc_state(pid) is None, 1.5,
                   "the script (pid %d) gone after its client closed" % pid)
        # 2. after its head and a first chunk went out
        c = connect(s.srv)
        c.send(req("/cgi-bin/sleeper-head.sh"))
        r = c.read_response("HEAD")
        eq(r.status, 200, "the head")
        eq(c.read_exact(len(b"8\r\nstarted\n\r\n")), b"8\r\nstarted\n\r\n", "the first chunk")
        pid = s.pid("sleeper-head.pid")
        c.close()
        wait_until(lambda: harness.proc_state(pid) is None, 1.5,
                   "the streaming script (pid %d) gone after its client closed" % pid)
        # 3. in the middle of the request body
        c = connect(s.srv)
        c.send(req("/cgi-bin/sleeper.sh?b", "POST", [("Content-Length", "100000")]) + b"x" * 1000)
        pid = s.pid("sleeper.b.pid")
        c.close()
        wait_until(lambda: harness.proc_state(pid) is None, 1.5,
                   "the script (pid %d) gone after its client left mid-body" % pid)
        check(time.monotonic() - t0 < 10, "bounded")
        eq(get(s.srv, "/cgi-bin/hello.sh").body, b"hello\n", "scripts still run afterwards")


def test_cgi_static_files_fast_while_20_slow_scripts_run(ctx):
    with site(extra=["--cgi-max", "32"], threads=1) as s:
        conns = []
        try:
            fast = connect(s.srv, nodelay=True)
            fast.send(req("/file.txt"))
            eq(fast.read_response().body, FILE_TXT, "warm-up")
            for i in range(20):
                c = connect(s.srv)
                c.send(req("/cgi-bin/slow3.sh?%d" % i))
                conns.append(c)
            for i in range(20):
                s.pid("slow3.%d.pid" % i)
            times = []
            for _ in range(20):
                t = time.monotonic()
                fast.send(req("/file.txt"))
                r = fast.read_response()
                times.append(time.monotonic() - t)
                eq((r.status, r.body), (200, FILE_TXT), "static file while the scripts sleep")
            t_fast_done = time.monotonic()
            fast.close()
            first = None
            for i, c in enumerate(conns):
                r = c.read_response()
                eq((r.status, r.body), (200, b"slow %d\n" % i), "slow script %d" % i)
                first = first or time.monotonic()
            check(first > t_fast_done, "the scripts were done before the static GETs: nothing overlapped")
            med = statistics.median(times)
            check(med < 0.050, "median static response %.1f ms (max %.1f ms) while 20 scripts ran"
                  % (med * 1e3, max(times) * 1e3))
        finally:
            for c in conns:
                c.close()


def test_cgi_survives_a_burst_of_scripts_on_one_cpu(ctx):
    # 16 keep-alive connections asking for a script as fast as they can for
    # 2 s, htd and its scripts on one CPU: a script spawned just before
    # another's descriptors are closed still shares them while it execs
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    with site(threads=1, extra=["--cgi-max", "64"], prefix=pin) as s:
        stop_at = time.monotonic() + 2.0
        results = [[] for _ in range(16)]

        def client(out):
            try:
                c = connect(s.srv)
                while time.monotonic() < stop_at:
                    c.send(req("/cgi-bin/hello.sh"))
                    r = c.read_response()
                    out.append((r.status, r.body))
                c.close()
            except Exception as e:  # a dead server shows here
                out.append(("error", repr(e)))

        threads = [threading.Thread(target=client, args=(results[i],)) for i in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(harness.TIMEOUT + 5)
        time.sleep(0.2)
        check(s.srv.alive(), "htd died under the burst (status %s); %s" % (s.srv.proc.returncode, why_dead(s.srv)))
        bad = [x for out in results for x in out if x != (200, b"hello\n")]
        total = sum(len(out) for out in results)
        eq(bad[:3], [], "responses other than 200 hello (of %d)" % total)
        check(total >= 20, "only %d responses in 2 s" % total)
        # then 1 s of clients that leave as soon as they have asked: their
        # connections close while other scripts are being spawned
        stop_at = time.monotonic() + 1.0
        errors = []

        def leaver():
            try:
                while time.monotonic() < stop_at:
                    c = connect(s.srv)
                    c.send(req("/cgi-bin/hello.sh"))
                    c.close()
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=leaver) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(harness.TIMEOUT + 5)
        time.sleep(0.2)
        check(s.srv.alive(), "htd died while clients left (status %s); %s" % (s.srv.proc.returncode, why_dead(s.srv)))
        eq(errors[:3], [], "connect or send failed while clients left")
        # the scripts of the clients that left are killed and reaped: their
        # slots come back
        wait_until(lambda: get(s.srv, "/cgi-bin/hello.sh").status == 200, 5,
                   "a script to run again after the clients left (503 for 5 s: slots lost?)",
                   interval=0.1)


def test_cgi_graceful_stop_finishes_a_running_script(ctx):
    s = Site()
    passed = False
    try:
        c = connect(s.srv)
        c.send(req("/cgi-bin/hold.sh?stop"))
        s.pid("hold.stop.pid")
        s.srv.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        check(s.srv.alive(), "htd exited with a script in flight")
        s.touch("release")
        r = c.read_response()
        eq((r.status, r.body), (200, b"released stop\n"), "the script's answer during the stop")
        c.close()
        rc = s.srv.wait()
        eq(rc, 0, "exit status after SIGTERM (stderr %r)" % s.srv.stderr()[-800:])
        passed = True
    finally:
        s.close(passed)


def test_cgi_prefixes_and_limits_from_the_config_file(ctx):
    hello = SCRIPTS["hello.sh"]
    conf = '''root = "site";
cgi = ["/cgi-bin/"];
cgi_timeout = 5;
cgi_max = 2;
vhosts = ( { names = ["scripts.test"]; root = "other"; cgi = ["/run/", "/also/"]; } );
'''
    cd = harness.ConfDir()
    held = []
    try:
        state = cd.mkdir("state")
        hold = SCRIPTS["hold.sh"].replace("@STATE@", state)
        for rel, text in (("site/cgi-bin/hello.sh", hello), ("site/cgi-bin/hold.sh", hold),
                          ("other/run/hello.sh", hello), ("other/also/hello.sh", hello)):
            cd.write(rel, text, 0o755)

        def pid_of(name):
            t = harness.read_file(os.path.join(state, name))
            return int(t) if t and t.endswith("\n") else None

        with harness.config_server(conf, confdir=cd) as srv:
            # cgi_max = 2, first, on a server with no script run yet: two
            # held scripts, and a third request (in the vhost) gets 503
            for i in (1, 2):
                c = connect(srv)
                c.send(req("/cgi-bin/hold.sh?cfg%d" % i))
                held.append(c)
            pids = [wait_until(lambda: pid_of("hold.cfg%d.pid" % i), 5, "held script %d" % i) for i in (1, 2)]
            check_error(get(srv, "/run/hello.sh", host="scripts.test"), 503)
            with open(os.path.join(state, "release"), "wb"):
                pass
            for i, c in enumerate(held, 1):
                eq(c.read_response().body, b"released cfg%d\n" % i, "held script %d" % i)
            for pid in pids:
                wait_until(lambda: harness.proc_state(pid) is None, 5, "held script reaped")
            # the prefixes: the top level's, and the vhost's own two
            eq(get(srv, "/cgi-bin/hello.sh").body, b"hello\n", "the top level's cgi")
            for p in ("/run/hello.sh", "/also/hello.sh"):
                r = get(srv, p, host="scripts.test")
                eq((r.status, r.body), (200, b"hello\n"), "the vhost's cgi %s" % p)
            r = get(srv, "/run/hello.sh")
            check(r.body != b"hello\n", "/run/ is the vhost's prefix, not the top level's: %r" % r.body)
        cd.write_conf('root = "site";\ncgi = ["cgi-bin/"];\n')
        p = harness.run_htd(["--check-config", cd.conf])
        eq(p.returncode, 2, "a prefix without its leading '/'")
        err = p.stderr.decode()
        check(err.startswith("htd: %s:2: " % cd.conf) and "cgi-bin/" in err, "the error names its line: %r" % err)
    finally:
        for c in held:
            c.close()
        cd.cleanup()


REVIEW_SCRIPTS = {
    # a header block that grows when rewritten (each "a:" becomes "a: " CRLF)
    "manyheaders.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n'\ni=0\nwhile [ $i -lt 4000 ]; do printf 'a:\\n'; "
                      "i=$((i+1)); done\nprintf '\\nbody\\n'\n",
    # output with a pause longer than --body-timeout, well within --cgi-timeout
    "pause.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nfirst\\n'\nsleep 2\nprintf 'second\\n'\n",
    "nph-head.sh": "#!/bin/sh\nprintf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nX-Nph: head\\r\\n\\r\\n'\n",
    "hang.sh": "#!/bin/sh\nsleep 30\n",
}


def _review_scripts(s):
    for name, text in REVIEW_SCRIPTS.items():
        s.write("cgi-bin/" + name, text)


def test_cgi_header_block_that_grows_when_rewritten_is_a_500_not_an_overflow(ctx):
    with site() as s:
        _review_scripts(s)
        r = get(s.srv, "/cgi-bin/manyheaders.sh")
        eq(r.status, 500, "a header block too large once rewritten")
        eq(get(s.srv, "/file.txt").body, FILE_TXT, "and htd goes on")


def test_cgi_pause_longer_than_the_body_timeout_does_not_cut_the_response(ctx):
    with site(extra=["--body-timeout", "1", "--cgi-timeout", "10"]) as s:
        _review_scripts(s)
        r = get(s.srv, "/cgi-bin/pause.sh")
        eq((r.status, r.body), (200, b"first\nsecond\n"), "the whole output, after a 2 s pause")


def test_cgi_nph_head_passes_the_scripts_head_through(ctx):
    with site() as s:
        _review_scripts(s)
        c = connect(s.srv)
        c.send(req("/cgi-bin/nph-head.sh", "HEAD"))
        data = c.read_to_eof()
        c.close()
        check(data.startswith(b"HTTP/1.1 200 OK\r\n") and b"X-Nph: head" in data, "the script's head: %r" % data)


def test_cgi_time_limit_while_earlier_responses_are_still_sent(ctx):
    # A big pipelined download the client does not read yet, then a script that
    # hangs past the limit: its 500 follows the download, and htd stays up.
    with site(extra=["--cgi-timeout", "1"]) as s:
        _review_scripts(s)
        s.write("big.bin", os.urandom(8 << 20), 0o644)
        c = connect(s.srv)
        c.send(req("/big.bin") + req("/cgi-bin/hang.sh"))
        time.sleep(2.5)
        r = c.read_response()
        eq((r.status, len(r.body)), (200, 8 << 20), "the download")
        eq(c.read_response().status, 500, "then the script's 500")
        c.close()
        eq(get(s.srv, "/file.txt").body, FILE_TXT, "htd still answers")


# --------------------------------------------------------------------------
# cgi = true / false in a rule

INFO_CGI = ("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
            "printf 'SCRIPT_NAME=%s\\nPATH_INFO=%s\\n' \"$SCRIPT_NAME\" \"${PATH_INFO-<unset>}\"\n")

RULE_CGI = r'''root = "site";
access_log = "off";
cgi = ["/cgi-bin/"];
rules = (
  { regex = "\\.cgi(/|$)"; cgi = true; },
  { prefix = "/cgi-bin/static/"; cgi = false; },
  { prefix = "/app/"; rewrite = "/scripts/info.cgi/$1"; },
  { prefix = "/raw/"; rewrite = "/cgi-bin/static/$1"; }
);
'''


def _info(script, path_info):
    return b"SCRIPT_NAME=%s\nPATH_INFO=%s\n" % (script, path_info)


def test_cgi_rule_runs_a_regexs_paths_and_turns_a_prefix_off(ctx):
    """A regex rule with cgi = true runs every *.cgi under the root (PATH_INFO
    split as under a prefix); a rule with cgi = false under /cgi-bin/ serves
    its files as they are; after a rewrite the new path's rule decides."""
    hello = SCRIPTS["hello.sh"].encode()
    cd = harness.ConfDir()
    try:
        for rel, text in (("site/scripts/info.cgi", INFO_CGI), ("site/deep/er/info.cgi", INFO_CGI),
                          ("site/scripts/info.txt", INFO_CGI), ("site/scripts/photo.jpg", INFO_CGI),
                          ("site/scripts/.hidden.cgi", INFO_CGI), ("site/cgi-bin/hello.sh", hello),
                          ("site/cgi-bin/static/hello.sh", hello)):
            cd.write(rel, text, 0o755)
        with harness.config_server(RULE_CGI, confdir=cd) as srv:
            r = get(srv, "/scripts/info.cgi")
            eq((r.status, r.body), (200, _info(b"/scripts/info.cgi", b"<unset>")), "a .cgi file run")
            r = get(srv, "/deep/er/info.cgi/a/b%20c?x=1")
            eq((r.status, r.body), (200, _info(b"/deep/er/info.cgi", b"/a/b c")),
               "a .cgi file deeper down, with its PATH_INFO")
            r = get(srv, "/scripts/info.txt")
            eq((r.status, r.body), (200, INFO_CGI.encode()), "an executable .txt is a file, not run")
            r = get(srv, "/scripts/photo.jpg/x.cgi")
            check_error(r, 404)
            check(b"SCRIPT_NAME" not in r.body, "photo.jpg is not run for /photo.jpg/x.cgi: %r" % r.body)
            check_error(get(srv, "/scripts/.hidden.cgi"), 403)
            check_error(get(srv, "/scripts/missing.cgi"), 404)
            r = get(srv, "/cgi-bin/hello.sh")
            eq((r.status, r.body), (200, b"hello\n"), "the prefix still runs its scripts")
            r = get(srv, "/cgi-bin/static/hello.sh")
            eq((r.status, r.body), (200, hello), "cgi = false: the script's bytes, not run")
            eq(r.get("Content-Length"), str(len(hello)), "a file's Content-Length")
            r = get(srv, "/app/p/q")
            eq((r.status, r.body), (200, _info(b"/scripts/info.cgi", b"/p/q")),
               "rewritten to a .cgi path: run by the regex rule")
            r = get(srv, "/raw/hello.sh")
            eq((r.status, r.body), (200, hello), "rewritten under cgi = false: the file")
        cd.write_conf('root = "site";\nrules = (\n  { prefix = "/x/"; cgi = "yes"; }\n);\n')
        p = harness.run_htd(["--check-config", cd.conf])
        eq(p.returncode, 2, "cgi = \"yes\" in a rule")
        err = p.stderr.decode()
        check(err.startswith("htd: %s:3: " % cd.conf) and "cgi in a rule must be true or false" in err,
              "the error names its line: %r" % err)
    finally:
        cd.cleanup()


def test_cgi_rule_refused_where_uploads_land(ctx):
    """cgi = true on a path a writable area covers is refused at load, with the
    file and line: whatever PUT stores there could then be run."""
    cd = harness.ConfDir()
    try:
        cd.mkdir("site/up")
        cd.mkdir("v/dav")
        cases = [
            ('writable = ["/up/"];\nrules = (\n  { regex = "\\\\.cgi$"; cgi = true; }\n);\n', 4, "/up/"),
            ('writable = ["/up/:1M"];\nrules = (\n  { prefix = "/"; cgi = true; }\n);\n', 4, "/up/"),
            ('writable = ["/up"];\nrules = (\n  { exact = "/up/run.sh"; cgi = true; }\n);\n', 4, "/up"),
            ('writable = ["/up/"];\nrules = (\n  { regex = "^/u.*\\\\.cgi$"; cgi = true; }\n);\n', 4, "/up/"),
            ('vhosts = ( { names = "v.test"; root = "v"; writable = ["/dav/"];\n'
             '  rules = ( { prefix = "/dav/bin/"; cgi = true; } ); } );\n', 3, "/dav/"),
        ]
        for body, line, area in cases:
            cd.write_conf('root = "site";\n' + body)
            p = harness.run_htd(["--check-config", cd.conf])
            err = p.stderr.decode()
            eq(p.returncode, 2, "refused: %r (%r)" % (body, err))
            check(err.startswith("htd: %s:%d: " % (cd.conf, line)) and
                  "writable area %s" % area in err, "the error names its line and area: %r" % err)
        # a flag's area, the top level's rule: the start is refused
        cd.write_conf('root = "site";\nrules = (\n  { prefix = "/up/bin/"; cgi = true; }\n);\n')
        p = harness.run_htd(["--config", cd.conf, "--writable", "/up/", "--listen", "127.0.0.1:0"])
        eq(p.returncode, 2, "a --writable area: %r" % p.stderr)
        check(b":3: " in p.stderr and b"writable area /up/" in p.stderr, "why: %r" % p.stderr)
        fine = [
            'writable = ["/up/"];\nrules = (\n  { regex = "^/app/.*\\\\.cgi$"; cgi = true; },\n'
            '  { prefix = "/upload/"; cgi = true; },\n  { prefix = "/up/"; cgi = false; }\n);\n',
            'vhosts = ( { names = "v.test"; root = "v"; writable = ["/dav/"]; } );\n'
            'rules = (\n  { prefix = "/dav/"; cgi = true; }\n);\n',
        ]
        for body in fine:
            cd.write_conf('root = "site";\n' + body)
            p = harness.run_htd(["--check-config", cd.conf])
            eq(p.returncode, 0, "accepted: %r (%r)" % (body, p.stderr))
    finally:
        cd.cleanup()


def test_cgi_rule_never_runs_a_script_in_an_area_a_reload_left_writable(ctx):
    """A reload that drops a writable area and adds cgi = true over it is taken
    (areas change at a restart), but the area is still written to until then:
    its files are not run, even executable ones."""
    hello = SCRIPTS["hello.sh"]
    cd = harness.ConfDir()
    try:
        cd.write("site/up/run.cgi", hello, 0o755)
        cd.write("site/app/run.cgi", hello, 0o755)
        conf = 'root = "site";\naccess_log = "off";\nwritable = ["/up/"];\n'
        with harness.config_server(conf, confdir=cd) as srv:
            r = get(srv, "/up/run.cgi")
            eq((r.status, r.body), (200, hello.encode()), "a file before the reload")
            since = len(srv.stderr())
            cd.write_conf('root = "site";\naccess_log = "off";\n'
                          'rules = ( { regex = "\\\\.cgi$"; cgi = true; } );\n')
            srv.send_signal(signal.SIGHUP)
            wait_until(lambda: "htd: reloaded " in srv.stderr()[since:], 5, "the reload")
            r = get(srv, "/up/x.txt", "PUT", headers=[("Content-Length", "2")], body=b"x\n")
            eq(r.status, 201, "the area is still writable")
            r = get(srv, "/up/run.cgi")
            check_error(r, 403)
            check(b"hello" not in r.body, "not run: %r" % r.body)
            r = get(srv, "/app/run.cgi")
            eq((r.status, r.body), (200, b"hello\n"), "a script elsewhere runs")
    finally:
        cd.cleanup()
