# SPDX-License-Identifier: BSD-2-Clause
"""Shared harness for htd's black-box tests.

It writes a document root of fixtures, starts the real `htd` binary on an
ephemeral loopback port, speaks raw bytes over sockets and parses the
responses itself (status line, headers, and a body framed by Content-Length,
chunked coding or connection close). Standard library only.

Every socket operation has a generous timeout (TIMEOUT) so that the suite
also passes against a build with AddressSanitizer and UBSan.
"""

import base64
import calendar
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TIMEOUT = 10.0          # seconds per socket operation and per start/stop
HTD = "build/htd"       # set by run.py
EXAMPLES = "build/examples"

SERVING_RE = re.compile(r"^htd 0\.1\.0 serving (\S+) at https?://([^/]+)/$")
URL_RE = re.compile(r"https?://([^/]+)/")
DATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d GMT$")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:",
                     "ERROR: LeakSanitizer", "ERROR: ThreadSanitizer",
                     "SUMMARY: UndefinedBehaviorSanitizer")

ERROR_CT = "text/plain; charset=utf-8"
ALLOW = "GET, HEAD, OPTIONS"


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test that cannot run in this environment."""


# --------------------------------------------------------------------------
# assertions

def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def eq(got, want, what="value"):
    if got != want:
        raise TestFailure("%s: expected %s, got %s" % (what, _short(want), _short(got)))


def _short(v, n=300):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


# --------------------------------------------------------------------------
# fixtures

FILE_TXT = b"Hello from file.txt\nThe second line.\n"
SECRET_TXT = b"this is secret.txt, reachable only by a smuggled request\n"
LETTERS = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
INDEX_HTML = b"<!doctype html><title>root</title><p>root index</p>\n"
SUB_INDEX = b"<!doctype html><title>sub</title><p>sub index</p>\n"
STYLE_CSS = b"body { color: #123456; }\n"
APP_JS = b"console.log('htd');\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
       b"\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f"
       b"\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
DATA_UNKNOWN = bytes(range(256))
HIDDEN = b"dotfile contents must not be served\n"
WELL_KNOWN = b"well-known file\n"
OUTSIDE = b"OUTSIDE-THE-ROOT contents must not be served\n"
BIG_SIZE = 8 * 1024 * 1024

# A fixed modification time for files whose Last-Modified the tests reason about.
FIXED_MTIME = 1577880000  # Wed, 01 Jan 2020 12:00:00 GMT


class Docroot:
    """A temporary document root (mode 0755) filled with the fixtures."""

    def __init__(self, big=True):
        self.path = os.path.realpath(tempfile.mkdtemp(prefix="htd-root-"))
        os.chmod(self.path, 0o755)
        self.outside_dir = os.path.realpath(tempfile.mkdtemp(prefix="htd-outside-"))
        os.chmod(self.outside_dir, 0o755)
        self.files = {}
        w = self.write
        w("file.txt", FILE_TXT)
        w("secret.txt", SECRET_TXT)
        w("letters.txt", LETTERS)
        w("index.html", INDEX_HTML)
        w("style.css", STYLE_CSS)
        w("app.js", APP_JS)
        w("pixel.png", PNG)
        w("data.zzqx", DATA_UNKNOWN)
        w("sub/index.html", SUB_INDEX)
        w("sub/.hidden", HIDDEN)
        w("sub/page.txt", b"sub page\n")
        w(".secret", HIDDEN)
        w(".well-known/x.txt", WELL_KNOWN)
        w("noindex/readme.txt", b"a directory without index.html\n")
        w("with space.txt", b"a name with a space\n")
        if big:
            self.big = os.urandom(BIG_SIZE)
            w("big.bin", self.big)
            self.big_sha = hashlib.sha256(self.big).hexdigest()
        for name in ("file.txt", "letters.txt"):
            os.utime(os.path.join(self.path, name), (FIXED_MTIME, FIXED_MTIME))
        out = os.path.join(self.outside_dir, "outside.txt")
        with open(out, "wb") as f:
            f.write(OUTSIDE)
        os.chmod(out, 0o644)
        os.symlink(out, os.path.join(self.path, "link_out.txt"))
        os.symlink("file.txt", os.path.join(self.path, "link_in.txt"))

    def write(self, rel, data, mode=0o644):
        full = os.path.join(self.path, rel)
        d = os.path.dirname(full)
        if not os.path.isdir(d):
            os.makedirs(d)
            os.chmod(d, 0o755)
        with open(full, "wb") as f:
            f.write(data)
        os.chmod(full, mode)
        self.files[rel] = data

    def cleanup(self):
        for p in (self.path, self.outside_dir):
            shutil.rmtree(p, ignore_errors=True)


# --------------------------------------------------------------------------
# the server process

class Server:
    """A running htd (or example) process, its address, stdout and stderr.

    stdout and stderr go to files (never pipes, which could fill up); the
    first stdout line is the serving line, read by polling the file.
    """

    def __init__(self, argv, cwd=None, preexec_user=None, serving_line=True):
        self.argv = list(argv)
        # As root (CI), htd refuses to run scripts unless told they may:
        # the tests of scripts and queues say so, except those of the refusal.
        at = [i for i, a in enumerate(self.argv) if os.path.basename(a) == "htd"]
        if (at and os.geteuid() == 0 and "--user" not in self.argv and
                "--no-scripts-as-root" not in self.argv and self.argv[at[0] + 1:at[0] + 2] not in
                (["jobs"], ["ledger"])):
            self.argv.insert(at[0] + 1, "--scripts-as-root")
        self.argv = [a for a in self.argv if a != "--no-scripts-as-root"]
        self.logdir = tempfile.mkdtemp(prefix="htd-log-")
        os.chmod(self.logdir, 0o755)
        self.out_path = os.path.join(self.logdir, "stdout")
        self.err_path = os.path.join(self.logdir, "stderr")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, cwd=cwd)
        self.serving_line = None
        self.root = None
        self.host = self.port = None
        self.err_checked = 0
        if serving_line:
            self._wait_serving_line()

    def _wait_serving_line(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(self.out_path, "rb") as f:
                data = f.read()
            if b"\n" in data:
                line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
                self.serving_line = line
                m = URL_RE.search(line)
                if not m:
                    self.kill()
                    fail("serving line has no URL: %r" % line)
                hostport = m.group(1)
                host, _, port = hostport.rpartition(":")
                self.host, self.port = host.strip("[]"), int(port)
                m2 = SERVING_RE.match(line)
                self.root = m2.group(1) if m2 else None
                return
            if self.proc.poll() is not None:
                fail("server exited with %s before printing its serving line; stderr: %r"
                     % (self.proc.returncode, self.stderr()[-2000:]))
            time.sleep(0.01)
        self.kill()
        fail("no serving line on stdout within %.0f s" % TIMEOUT)

    @property
    def addr(self):
        return (self.host, self.port)

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def sanitizer_report(self, since=0):
        err = self.stderr()[since:]
        for m in SANITIZER_MARKERS:
            if m in err:
                i = err.index(m)
                return err[max(0, i - 200):i + 3000]
        return None

    def check_health(self):
        """Fails if the process died or wrote a sanitizer report since the last check."""
        if self.sanitizer_report(self.err_checked) and self.alive():
            self.wait(3)  # a sanitizer aborts after writing its report: let it finish
        err = self.stderr()
        rep = self.sanitizer_report(self.err_checked)
        self.err_checked = len(err)
        if rep:
            fail("sanitizer report on server stderr:\n" + rep)
        if not self.alive():
            fail("server process died (status %s); stderr tail: %r"
                 % (self.proc.returncode, err[-1500:]))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=None):
        try:
            return self.proc.wait(TIMEOUT if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Graceful stop; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            rc = self.wait(timeout)
            if rc is None:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._close_files()

    def _close_files(self):
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.logdir, ignore_errors=True)


def start_htd(root, extra=(), threads=2, cwd=None, binary=None, prefix=()):
    argv = list(prefix) + [binary or HTD]
    if root is not None:
        argv += ["--root", root]
    argv += ["--listen", "127.0.0.1:0", "--threads", str(threads)] + list(extra)
    return Server(argv, cwd=cwd)


def start_example(name, root, *args):
    """Starts build/examples/NAME ROOT 127.0.0.1:0 ARGS..."""
    binary = os.path.join(EXAMPLES, name)
    if not os.access(binary, os.X_OK):
        fail("example binary %s not found (make builds it)" % binary)
    return Server([binary, root, "127.0.0.1:0"] + list(args))


# --------------------------------------------------------------------------
# raw HTTP over sockets

def connect(srv, rcvbuf=None, nodelay=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(TIMEOUT)
    s.connect(srv.addr)
    return Conn(s)


class Response:
    def __init__(self):
        self.version = self.reason = None
        self.status = None
        self.headers = []     # [(name, value)] in order, names as sent
        self.body = b""
        self.head_raw = b""
        self.chunked = False
        self.trailers = []

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return bool(self.get_all(name))

    def __repr__(self):
        return "<Response %s %s %r body=%d bytes>" % (
            self.status, self.reason, self.headers, len(self.body))


class Conn:
    """A client connection with a receive buffer, for pipelined reads."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _fill(self, bufsize=65536):
        if self.eof:
            return False
        try:
            d = self.sock.recv(bufsize)
        except socket.timeout:
            fail("timed out after %.0f s waiting for data (have %r)"
                 % (TIMEOUT, self.buf[:200]))
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def read_line(self):
        while b"\n" not in self.buf:
            if not self._fill():
                fail("connection closed before a full line; have %r" % self.buf[:300])
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                fail("connection closed after %d of %d body bytes" % (len(self.buf), n))
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def read_to_eof(self, limit=64 * 1024 * 1024):
        while self._fill():
            if len(self.buf) > limit:
                fail("more than %d bytes before close" % limit)
        d, self.buf = self.buf, b""
        return d

    def at_eof(self, timeout=None):
        """True if the peer closes the connection (with no more data) within timeout."""
        if timeout is None:
            timeout = TIMEOUT
        if self.buf:
            return False
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(1)
        except socket.timeout:
            return False
        except ConnectionResetError:
            d = b""
        finally:
            self.sock.settimeout(TIMEOUT)
        if d:
            self.buf += d
            return False
        self.eof = True
        return True

    def read_response(self, method="GET"):
        r = Response()
        line = self.read_line()
        head = [line]
        check(line.endswith(b"\r\n"), "status line not ended by CRLF: %r" % line)
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) (.*)\r\n$", line)
        check(m is not None, "malformed status line: %r" % line)
        r.version = m.group(1).decode()
        r.status = int(m.group(2))
        r.reason = m.group(3).decode("latin-1")
        while True:
            line = self.read_line()
            head.append(line)
            check(line.endswith(b"\r\n"), "header line not ended by CRLF: %r" % line)
            if line == b"\r\n":
                break
            name, sep, value = line[:-2].partition(b":")
            check(sep == b":" and name and name.strip() == name,
                  "malformed response header line: %r" % line)
            r.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        r.head_raw = b"".join(head)
        if method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200:
            return r
        te = r.get("Transfer-Encoding")
        cl = r.get_all("Content-Length")
        if te is not None:
            check(te.lower() == "chunked", "unexpected response Transfer-Encoding %r" % te)
            r.chunked = True
            r.body = self._read_chunked(r)
        elif cl:
            check(len(cl) == 1, "several Content-Length headers: %r" % cl)
            check(re.match(r"^\d+$", cl[0]) is not None, "bad Content-Length %r" % cl[0])
            r.body = self.read_exact(int(cl[0]))
        else:
            r.body = self.read_to_eof()
        return r

    def _read_chunked(self, r):
        body = b""
        while True:
            line = self.read_line()
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            body += self.read_exact(size)
            check(self.read_exact(2) == b"\r\n", "chunk not followed by CRLF")
        while True:
            line = self.read_line()
            if line == b"\r\n":
                break
            r.trailers.append(line)
        return body


def download_in_flight(srv):
    """A GET of the 8 MiB big.bin on a connection with a small receive
    buffer, read slowly until 256 KiB are in: a response in flight. The
    Conn, with what it has read in its buffer."""
    c = connect(srv, rcvbuf=16384)
    c.send(req("/big.bin"))
    while len(c.buf) < 256 * 1024:
        d = c.sock.recv(16384)
        check(d, "connection closed early")
        c.buf += d
        time.sleep(0.001)
    return c


def check_big(r, root, what="big.bin"):
    eq(r.status, 200, "status of " + what)
    eq(len(r.body), len(root.big), "length of " + what)
    eq(hashlib.sha256(r.body).hexdigest(), root.big_sha, "sha256 of " + what)


def req(path, method="GET", headers=None, version="HTTP/1.1", host="localhost", body=b""):
    """Builds request bytes. headers: list of (name, value) or raw lines."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    for h in headers or ():
        lines.append(h if isinstance(h, str) else "%s: %s" % h)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(srv, data, method="GET"):
    """Sends raw bytes on a new connection, returns (response, conn)."""
    c = connect(srv)
    c.send(data)
    return c.read_response(method), c


def get(srv, path, method="GET", headers=None, close=True, **kw):
    """One request on a fresh connection; returns the response."""
    c = connect(srv)
    try:
        c.send(req(path, method, headers, **kw))
        return c.read_response(method)
    finally:
        if close:
            c.close()


# --------------------------------------------------------------------------
# response checks

def check_common(r):
    eq(r.version, "HTTP/1.1", "response version")
    eq(r.get("Server"), "htd", "Server header")
    for name in ("Server", "Date", "Content-Length", "Content-Type", "ETag", "Last-Modified",
                 "Connection", "Location", "Allow", "Content-Range"):
        check(len(r.get_all(name)) <= 1, "%s header sent %d times: %r"
              % (name, len(r.get_all(name)), r.headers))
    d = r.get("Date")
    check(d is not None and DATE_RE.match(d), "Date header not an IMF-fixdate: %r" % d)
    skew = abs(calendar.timegm(time.strptime(d, "%a, %d %b %Y %H:%M:%S GMT")) - time.time())
    check(skew < 60, "Date header %r is %.0f s away from now" % (d, skew))
    if r.status in (204, 304) or r.status < 200:
        check(not r.has("Content-Length") or r.status == 304,
              "status %d must not carry Content-Length: %r" % (r.status, r.headers))
    else:
        check(r.has("Content-Length") or r.chunked,
              "no Content-Length on a %d response: %r" % (r.status, r.headers))


def check_ok_file(r, data, ctype=None, method="GET"):
    eq(r.status, 200, "status")
    check_common(r)
    eq(r.get("Content-Length"), str(len(data)), "Content-Length")
    if method == "GET":
        check(r.body == data, "body differs from the file: got %s, want %s"
              % (_short(r.body, 120), _short(data, 120)))
    if ctype is not None:
        eq(r.get("Content-Type"), ctype, "Content-Type")
    lm = r.get("Last-Modified")
    check(lm is not None and DATE_RE.match(lm), "Last-Modified not an IMF-fixdate: %r" % lm)
    et = r.get("ETag")
    check(et is not None and et.startswith('"') and et.endswith('"') and len(et) >= 2,
          "ETag not a strong entity tag: %r" % et)
    eq(r.get("Accept-Ranges"), "bytes", "Accept-Ranges")


def check_error(r, status, method="GET"):
    eq(r.status, status, "status (response head %r)" % r.head_raw)
    check_common(r)
    eq(r.get("Content-Type"), ERROR_CT, "Content-Type of an error")
    if method != "HEAD":
        check(len(r.body) > 0 and r.body.endswith(b"\n"),
              "error body should be one non-empty line ending in \\n: %r" % r.body)
        eq(r.get("Content-Length"), str(len(r.body)), "Content-Length of the error body")


def http_date(ts):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# --------------------------------------------------------------------------
# htd with a config file (--config), for test_config, test_vhosts, test_rules,
# test_auth and test_reload

EXAMPLES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "..", "..", "examples"))


class ConfDir:
    """A temporary directory for a config file (htd.conf) and the files it
    names by relative paths: roots, htpasswd files, logs."""

    def __init__(self, files=None):
        self.path = os.path.realpath(tempfile.mkdtemp(prefix="htd-conf-"))
        os.chmod(self.path, 0o755)
        self.conf = os.path.join(self.path, "htd.conf")
        for rel, data in (files or {}).items():
            self.write(rel, data)

    def p(self, rel):
        return os.path.join(self.path, rel)

    def write(self, rel, data, mode=0o644):
        """Writes a file (str or bytes), making its directories; atomic, by
        a rename, so a reloading htd never reads half of it."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        full = self.p(rel)
        d = os.path.dirname(full)
        if not os.path.isdir(d):
            os.makedirs(d)
        tmp = full + ".tmp-write"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, full)
        return full

    def mkdir(self, rel):
        os.makedirs(self.p(rel), exist_ok=True)
        return self.p(rel)

    def write_conf(self, text):
        return self.write("htd.conf", text)

    def read(self, rel):
        with open(self.p(rel), "rb") as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class ConfigServer(Server):
    """An htd started with --config; .addrs lists every listening address
    from the serving lines (one per --listen), .confdir its ConfDir."""

    def __init__(self, argv, confdir, conf_path, nlisten=1, own_confdir=True):
        self.confdir = confdir
        self.conf_path = conf_path
        self.own_confdir = own_confdir
        self.addrs = []
        try:
            super().__init__(argv)
            self._wait_serving_lines(nlisten)
        except BaseException:
            if getattr(self, "proc", None) is not None:
                self.kill()
            if getattr(self, "logdir", None):
                shutil.rmtree(self.logdir, ignore_errors=True)
            raise

    def _wait_serving_lines(self, n):
        deadline = time.monotonic() + TIMEOUT
        while True:
            lines = [l for l in self.stdout().split("\n")[:-1] if " serving " in l]
            if len(lines) >= n:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                fail("expected %d serving lines, stdout: %r, stderr: %r"
                     % (n, self.stdout()[:1000], self.stderr()[-1000:]))
            time.sleep(0.01)
        for l in lines[:n]:
            m = URL_RE.search(l)
            check(m is not None, "serving line has no URL: %r" % l)
            host, _, port = m.group(1).rpartition(":")
            self.addrs.append((host.strip("[]"), int(port)))

    def cleanup(self):
        Server.cleanup(self)
        if self.own_confdir and self.confdir is not None:
            self.confdir.cleanup()


def start_htd_config(conf, extra=(), threads=2, listen=("127.0.0.1:0",), files=None,
                     confdir=None, prefix=()):
    """Starts `htd --config FILE --listen 127.0.0.1:0 --threads 2 EXTRA`.

    conf is the text of the config, written as htd.conf into confdir (a new
    ConfDir holding `files`, {relative path: data}, unless one is given), or
    the path of an existing file when it names one. `listen` is a list of
    --listen values (none if empty, and none when extra has its own); each
    gives one serving line. threads=None passes no --threads. prefix goes
    before the command (a wrapper such as refuse_syscall.py).
    """
    own = confdir is None
    if "\n" not in conf and os.path.isfile(conf):
        path = os.path.abspath(conf)
    else:
        if confdir is None:
            confdir = ConfDir(files)
        else:
            for rel, data in (files or {}).items():
                confdir.write(rel, data)
        path = confdir.write_conf(conf)
    extra = list(extra)
    argv = list(prefix) + [HTD, "--config", path]
    listens = [] if "--listen" in extra else list(listen)
    for a in listens:
        argv += ["--listen", a]
    if threads is not None and "--threads" not in extra:
        argv += ["--threads", str(threads)]
    argv += extra
    nlisten = max(1, len(listens) + sum(1 for a in extra if a == "--listen"))
    try:
        return ConfigServer(argv, confdir, path, nlisten, own_confdir=own)
    except BaseException:
        if own and confdir is not None:
            confdir.cleanup()
        raise


class stops_cleanly:
    """`with stops_cleanly(srv):` on leaving stops the server srv with
    SIGTERM (if it still runs), keeps its output in srv.final_stdout and
    srv.final_stderr, removes its files, and (when the body passed)
    requires exit status 0 and no sanitizer report."""

    def __init__(self, srv):
        self.srv = srv

    def __enter__(self):
        return self.srv

    def __exit__(self, etype, e, tb):
        srv = self.srv
        rc = srv.stop()
        rep = srv.sanitizer_report()
        err = srv.stderr()
        srv.final_stdout, srv.final_stderr = srv.stdout(), err
        srv.cleanup()
        if etype is None:
            check(rep is None, "sanitizer report on stderr:\n%s" % rep)
            eq(rc, 0, "exit status after SIGTERM (stderr tail %r)" % err[-800:])
        return False


class config_server(stops_cleanly):
    """`with config_server(conf, ...) as srv:` starts htd as start_htd_config
    does, and on leaving stops it as stops_cleanly does."""

    def __init__(self, conf, **kw):
        super().__init__(start_htd_config(conf, **kw))


def connect_addr(addr, nodelay=False):
    """A Conn to (host, port), IPv4 or IPv6 by the host's form."""
    fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(TIMEOUT)
    s.connect(tuple(addr))
    return Conn(s)


def get_addr(addr, path, method="GET", headers=None, **kw):
    """One request on a fresh connection to addr; returns the response."""
    c = connect_addr(addr)
    try:
        c.send(req(path, method, headers, **kw))
        return c.read_response(method)
    finally:
        c.close()


def run_htd(args, cwd=None, timeout=None):
    """Runs htd to completion (--check-config, a start that fails); returns
    the CompletedProcess, failing on a timeout or a sanitizer report."""
    try:
        p = subprocess.run([HTD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT if timeout is None else timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        fail("htd %s did not exit within %.0f s" % (" ".join(args), TIMEOUT))
    err = p.stderr.decode("utf-8", "replace")
    for m in SANITIZER_MARKERS:
        if m in err:
            fail("sanitizer report from htd %s (exit %d):\n%s"
                 % (" ".join(args), p.returncode, err[:1500]))
    return p


def wait_until(pred, timeout=None, what="condition", interval=0.01):
    """Polls pred() until it returns a true value, which it returns; fails
    after timeout seconds (TIMEOUT by default)."""
    deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out waiting for %s" % what)
        time.sleep(interval)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def tool(argv, what=None):
    """Runs an external tool (htpasswd, mkpasswd); returns its stdout as
    text. Raises Skip if the tool is not installed."""
    if shutil.which(argv[0]) is None:
        raise Skip("%s is not installed (%s)" % (argv[0], what or "scripts/setup.sh installs it"))
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if p.returncode != 0:
        fail("%s exited %d: %r" % (" ".join(argv), p.returncode, p.stderr[:500]))
    return p.stdout.decode()


def basic(user, password):
    return ("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode("utf-8")).decode())


# --------------------------------------------------------------------------
# for test_cgi: request bodies, heads without their Date, child processes

def chunk_encode(data, sizes):
    """data in the chunked coding, in chunks of the given sizes (the last
    size repeats until data is used up), ended by the last chunk."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[min(k, len(sizes) - 1)]
        part = data[i:i + n]
        out.append(b"%x\r\n" % len(part) + part + b"\r\n")
        i += n
        k += 1
    return b"".join(out) + b"0\r\n\r\n"


def head_masked(r):
    """The response head as sent, with the Date header's value as <date>,
    for byte-exact comparisons."""
    return re.sub(rb"\r\nDate: [^\r\n]*\r\n", b"\r\nDate: <date>\r\n", r.head_raw, count=1)


def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z, ...), or None when
    there is no such process (it has been reaped)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return s[s.rindex(b")") + 2:].split()[0].decode()


def proc_dead(pid):
    """True if pid has exited: reaped, or a zombie nobody reaps (an orphan
    adopted by a PID 1 that does not wait)."""
    return proc_state(pid) in (None, "Z", "X")


def group_members(pgid):
    """Live (not zombie) processes in process group pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(b")") + 2:].split()
        if int(rest[2]) == pgid and rest[0] not in (b"Z", b"X"):
            out.append(int(d))
    return out


def kill_pid(pid, sig=signal.SIGKILL):
    """Sends sig to one process by its id; quiet if it is already gone."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass



# --------------------------------------------------------------------------
# the state database and its command-line tools (htd jobs, htd ledger)

def make_state_db(path):
    """An empty state database at path, as htd makes it: htd started once
    with a queue on the file, and stopped."""
    srv = start_htd(os.path.dirname(path), ["--queue", "/q/=/bin/false", "--state-db", path],
                    threads=1)
    eq(srv.stop(), 0, "htd's exit after making the database")
    srv.cleanup()


def state_tool(tool, args, cwd=None):
    """Runs `htd TOOL ARGS` (jobs, ledger); the CompletedProcess with .out and
    .err as text, failing on a timeout or a sanitizer report."""
    argv = [HTD, tool] + list(args)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        fail("%s did not exit within %.0f s" % (" ".join(argv), TIMEOUT))
    p.out, p.err = (b.decode("utf-8", "replace") for b in (p.stdout, p.stderr))
    bad = [m for m in SANITIZER_MARKERS if m in p.err]
    check(not bad, "sanitizer report from %s:\n%s" % (" ".join(argv), p.err[:1500]))
    return p


class StateDir:
    """A temporary directory holding a state database (NAME), made by
    make(path), removed on leaving a with block."""

    def __init__(self, name, make=make_state_db):
        self.path = os.path.realpath(tempfile.mkdtemp(prefix="htd-state-"))
        self.db = os.path.join(self.path, name)
        make(self.db)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        shutil.rmtree(self.path, ignore_errors=True)


# --------------------------------------------------------------------------
# the build itself (make man, make install)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_env():
    """The environment for a child make or compiler: not the jobserver of a
    make that runs the tests."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def run_ok(argv, what, env=None, timeout=120, cwd=None):
    """Runs a build tool (make, cc, pkg-config, man) to completion; fails if
    it is missing, times out or exits non-zero. Returns the CompletedProcess."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=env or build_env(), cwd=cwd)
    except FileNotFoundError:
        fail("%s: %s is not installed (scripts/setup.sh installs it)" % (what, argv[0]))
    except subprocess.TimeoutExpired:
        fail("%s: %s did not finish within %d s" % (what, " ".join(argv), timeout))
    if p.returncode != 0:
        fail("%s: %s exited %d:\n%s" % (what, " ".join(argv), p.returncode,
                                        (p.stdout + p.stderr).decode("utf-8", "replace")[-3000:]))
    return p


def build_dir():
    """The Makefile's BUILD that made the htd under test, relative to the
    repository; Skip for a sanitizer build, whose libraries a program can
    link only with the sanitizer's runtime."""
    with open(HTD, "rb") as f:
        if b"__asan_init" in f.read():
            raise Skip("a sanitizer build: this is tested with the plain build")
    return os.path.relpath(os.path.dirname(HTD), REPO)


def run_make(*args):
    """make ARGS in the repository, in htd's build directory: what htd was
    built from is up to date, so only what ARGS add is made."""
    argv = ["make", "-C", REPO, "--no-print-directory", "BUILD=" + build_dir()] + list(args)
    return run_ok(argv, "make " + " ".join(args))


# --------------------------------------------------------------------------
# the error log

# A line of htd's error log: the local time with milliseconds, the level,
# what it is about (a connection, and its request's id) when there is
# something, then the message.
ERRLOG_RE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}) \[(error|warn|notice|info|debug)\] "
                       r"(?:(#c\d+)(?: ([0-9a-f]{32}))? )?(.*)$")
# The same prefix, capturing nothing: "^" + ERRLOG_PREFIX + "htd: ..." is a
# regex for a message at the start of a line (re.M).
ERRLOG_PREFIX = (r"(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3} \[(?:error|warn|notice|info|debug)\] "
                 r"(?:#c\d+(?: [0-9a-f]{32})? )?)")


def errlog_messages(text):
    """The messages of the error log lines in text (htd's stderr, or an
    error_log file), without their time, level and context."""
    out = []
    for l in text.split("\n"):
        m = ERRLOG_RE.match(l)
        if m:
            out.append(m.group(5))
    return out
