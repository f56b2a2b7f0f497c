# SPDX-License-Identifier: BSD-2-Clause
"""The site the live tools (fuzz.py, soak.py) run htd on, with every feature on.

A temporary config directory (harness.ConfDir) holding:

    htd.conf            the config below, written by Site.start
    users.htpasswd      bcrypt (cost 4, so that ASan runs stay quick), user live
    logs/access.log     the access log
    site/               the top-level root:
      static files of several sizes and types (in memory, sendfile, compressed
      on the fly from memory and from disk, a precompressed .gz beside one),
      list/ (no index: listed), sub/ (an index), dotfiles and .well-known/,
      private/ (Basic auth), closed/ (denied to all), static/ (own headers),
      errors/404.html (the 404 page), cgi-bin/ (echo.sh, slow.sh, fail.sh),
      uploads/ (writable, made by htd)
    vsite/              the root of the vhost vhost.test

and the rules: auth on /private/, redirects from /old/ and /moved, access on
/closed/ and /local/, headers on /static/, the metrics at /metrics; the connection, memory and body
rate limits are on too, set far above what the clients need. Standard library only; the htd
process is started and stopped through tests/blackbox/harness.py.
"""

import base64
import gzip
import os
import random
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))

import harness  # noqa: E402

USER, PASSWORD = "live", "live-password"
VHOST = "vhost.test"

SCRIPTS = {
    # the request as the script saw it: its environment, then the body
    "echo.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\nX-Method: %s\\n\\n' "$REQUEST_METHOD"
env | LC_ALL=C sort
printf -- '--body--\\n'
exec cat
""",
    # a response in five pieces, 0.2 s apart
    "slow.sh": """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
for i in 1 2 3 4 5; do printf 'slow line %s\\n' "$i"; sleep 0.2; done
""",
    # a 500 on purpose: exits before writing a header
    "fail.sh": """#!/bin/sh
echo 'fail.sh fails on purpose' >&2
exit 1
""",
}

LIST_NAMES = ["a.txt", "b b.txt", "<i>&amp;\".txt", "x%20y.txt", "caf\u00e9.txt", ".hidden",
              "z-dir"] + ["n%03d.txt" % i for i in range(40)]


def _text(n, seed):
    """n bytes of compressible text, the same for the same seed."""
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"htd", b"server", b"request", b"\n"]
    out = []
    size = 0
    while size < n:
        w = rng.choice(words) + b" "
        out.append(w)
        size += len(w)
    return b"".join(out)[:n]


class Site:
    """The config directory and its files; .files maps a URL path to the
    bytes a GET of it must give (static files only)."""

    def __init__(self):
        self.cd = harness.ConfDir()
        self.files = {}
        rng = random.Random(12)
        f = self._file
        f("/index.html", b"<!doctype html><title>live</title><p>htd live site</p>\n")
        f("/file.txt", b"Hello from the live site.\n")
        f("/style.css", b"body { color: #123456; }\n" * 40)
        f("/app.js", b"console.log('htd live');\n")
        f("/data.json", b'{"live": true, "n": [1, 2, 3]}\n')
        f("/pixel.png", harness.PNG)
        f("/bytes.bin", bytes(range(256)) * 16)
        f("/medium.txt", _text(20 * 1024, 1))         # in memory, compressed on the fly
        f("/large.txt", _text(300 * 1024, 2))         # on disk (over 32 KiB), compressed on the fly
        f("/big.bin", rng.randbytes(1024 * 1024))     # sendfile
        f("/with space.txt", b"a name with a space\n")
        f("/caf\u00e9.txt", b"a UTF-8 name\n")
        f("/sub/index.html", b"<!doctype html><p>sub index</p>\n")
        f("/sub/page.txt", b"sub page\n")
        f("/static/site.css", b"p { margin: 0; }\n")
        f("/private/secret.txt", b"behind Basic auth\n")
        f("/closed/x.txt", b"denied to everyone\n")
        f("/local/x.txt", b"for 127.0.0.1 only\n")
        f("/errors/404.html", b"<!doctype html><p>custom 404 page</p>\n")
        f("/.well-known/x.txt", b"well-known file\n")
        for name in LIST_NAMES:
            if name == "z-dir":
                self._write("site/list/z-dir/inner.txt", b"inner\n")
            elif name == ".hidden":
                self._write("site/list/.hidden", b"hidden\n")
            else:
                f("/list/" + name, ("list entry %s\n" % name).encode())
        # served for Accept-Encoding: gzip, never as a file of its own name
        self._write("site/style.css.gz", gzip.compress(self.files["/style.css"], mtime=0))
        self._write("site/.secret", b"dotfile contents must not be served\n")
        self._write("site/sub/.hidden", b"dotfile contents must not be served\n")
        for name, text in SCRIPTS.items():
            self._write("site/cgi-bin/" + name, text.encode(), 0o755)
        self.vfiles = {"/index.html": b"<!doctype html><p>vhost.test</p>\n",
                       "/v.txt": b"a file of the vhost\n"}
        for p, data in self.vfiles.items():
            self._write("site-v" + p, data)
        self.cd.mkdir("logs")
        self.htpasswd()
        self.srv = None

    def _write(self, rel, data, mode=0o644):
        self.cd.write(rel, data, mode)
        os.chmod(os.path.dirname(self.cd.p(rel)), 0o755)

    def _file(self, url, data):
        self._write("site" + url, data)
        self.files[url] = data

    def htpasswd(self):
        """users.htpasswd with a cheap bcrypt hash (htpasswd -B -C 4)."""
        path = self.cd.p("users.htpasswd")
        harness.tool(["htpasswd", "-bcB", "-C", "4", path, USER, PASSWORD],
                     "apt-get install apache2-utils")

    @property
    def root(self):
        return self.cd.p("site")

    @property
    def uploads(self):
        return self.cd.p("site/uploads")

    def config(self, timeout=2.0, cgi_timeout=3.0, cgi_max=16, threads=2):
        return """\
threads = %(threads)d;
header_timeout = %(t)s;
body_timeout = %(t)s;
idle_timeout = %(t)s;
send_timeout = %(t)s;
max_requests = 100;
writable = ["/uploads/:1M"];
max_upload = "4M";
cgi = ["/cgi-bin/"];
cgi_timeout = %(ct)s;
cgi_max = %(cm)d;
gzip = true;
list_dirs = true;
# the limits on, far above what the clients need: their bookkeeping runs
max_conns = 10000;
max_conns_per_ip = 5000;
memory_budget = "1G";
min_body_rate = 64;
root = "site";
access_log = "logs/access.log";
headers = { X-Content-Type-Options = "nosniff"; };
error_pages = ( { status = 404; page = "/errors/404.html"; } );
rules = (
  { prefix = "/private/"; auth = { realm = "Live"; htpasswd = "users.htpasswd"; }; },
  { prefix = "/old/"; redirect = "/$1"; code = 301; },
  { exact = "/moved"; redirect = "/file.txt"; code = 302; },
  { regex = "^/r/([0-9]+)/(.*)$"; redirect = "/$2?n=$1"; code = 307; },
  { prefix = "/closed/"; access = ["deny all"]; },
  { prefix = "/local/"; access = ["allow 127.0.0.1", "deny all"]; },
  { prefix = "/static/"; headers = { Cache-Control = "public, max-age=60"; }; },
  { exact = "/metrics"; metrics = true; }
);
vhosts = (
  { names = ["%(vhost)s"]; root = "site-v"; }
);
""" % {"t": timeout, "ct": cgi_timeout, "cm": cgi_max, "threads": threads, "vhost": VHOST}

    def start(self, htd, **kw):
        """Starts htd (binary path htd) on the config; returns the server."""
        harness.HTD = os.path.abspath(htd)
        self.srv = harness.start_htd_config(self.config(**kw), threads=None, confdir=self.cd)
        return self.srv

    def stop(self):
        """Stops htd with SIGTERM; returns a list of problems (empty if it
        exited 0 with no sanitizer report)."""
        srv = self.srv
        problems = []
        rc = srv.stop(timeout=30)
        if rc != 0:
            problems.append("exit status after SIGTERM: %r (expected 0); stderr tail: %r"
                            % (rc, srv.stderr()[-1500:]))
        rep = srv.sanitizer_report()
        if rep:
            problems.append("sanitizer report on htd's stderr:\n" + rep)
        return problems

    def cleanup(self):
        if self.srv is not None:
            self.srv.cleanup()
        self.cd.cleanup()

    def leftover_temporaries(self):
        """Temporary files of the store still in the writable area."""
        out = []
        for d, _, names in os.walk(self.uploads):
            out += [os.path.join(d, n) for n in names if n.startswith(".htd-tmp-")]
        return out

    def settle(self, conns=16):
        """Brings every worker's file cache to the same state, so that
        descriptor counts taken at different times compare: a change in the
        root empties every cache before its next request, then GETs of a
        small file (kept in memory, no descriptor) of each host on conns
        connections, which the kernel spreads over the workers, so each
        worker has made its caches (an inotify descriptor each)."""
        self.cd.write("site/.settle", str(time.time()))
        for _ in range(conns):
            for host, path in (("localhost", "/file.txt"), (VHOST, "/v.txt")):
                r = harness.get_addr(self.srv.addr, path, headers=[("Connection", "close")], host=host)
                if r.status != 200:
                    harness.fail("settle: GET %s of %s gave %d" % (path, host, r.status))

    def etag(self, path):
        return harness.get_addr(self.srv.addr, path, "HEAD").get("ETag")


def auth_header(user=USER, password=PASSWORD):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


# --------------------------------------------------------------------------
# the htd process as /proc shows it

def rss_kib(pid):
    """VmRSS of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    """{fd: what it is}: socket, pipe, anon_inode:[eventpoll], a path..."""
    out = {}
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, name))
        except OSError:
            continue
        out[int(name)] = link
    return out


def fd_kinds(table):
    """A count of descriptors by kind, as text: "socket 3, pipe 2, ..."."""
    kinds = {}
    for link in table.values():
        k = re.sub(r":\[\d+\]$", "", link)
        if k.startswith("/"):
            k = "file"
        kinds[k] = kinds.get(k, 0) + 1
    return ", ".join("%s %d" % kv for kv in sorted(kinds.items()))


def wait_fds_stable(pid, quiet=1.0, timeout=20.0):
    """Waits until pid's descriptor count has not changed for `quiet`
    seconds (connections timing out, scripts reaped); returns the table."""
    deadline = time.monotonic() + timeout
    last = fds(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        cur = fds(pid)
        if len(cur) != len(last):
            last, since = cur, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return cur
    return last


def connect(addr, rcvbuf=None, nodelay=True, timeout=None):
    """A raw socket to addr (rcvbuf: a small receive buffer, for slow readers)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(harness.TIMEOUT if timeout is None else timeout)
    s.connect(addr)
    return s


def reset(sock):
    """Closes sock with a reset (SO_LINGER 0) instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    sock.close()


def git_describe():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
