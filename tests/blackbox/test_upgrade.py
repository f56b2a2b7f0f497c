# SPDX-License-Identifier: BSD-2-Clause
"""Upgrade without dropping a connection (SIGUSR2): the running htd starts
the program at its path again, hands it the listening sockets, and stops
gracefully once the new one serves. Clients making new connections in a
loop through it see no refusal, no reset and no wrong answer; a download in
flight finishes from the old process; a new program that fails leaves the
old one serving. Each test runs its own copy of the binary, so that the
file at its path can be replaced as an upgrade replaces it."""

import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import harness
from harness import check, eq, fail

BODY = b"upgrade me\n" * 100


def _client_loop(addr, stop, counts, lock):
    """New connection, one request, read to the close: until stop is set."""
    while not stop.is_set():
        what = "ok"
        try:
            s = socket.create_connection(addr, timeout=harness.TIMEOUT)
            try:
                s.sendall(b"GET /page.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
            finally:
                s.close()
            if not (data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\n" + BODY)):
                what = "wrong answer %r" % data[:80]
        except ConnectionRefusedError:
            what = "refused"
        except ConnectionResetError:
            what = "reset"
        except OSError as e:
            what = "error %s" % e
        with lock:
            counts[what] = counts.get(what, 0) + 1


class _Setup:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="htd-upgrade-")
        self.root = os.path.join(self.dir, "root")
        os.mkdir(self.root)
        with open(os.path.join(self.root, "page.txt"), "wb") as f:
            f.write(BODY)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(os.urandom(8 << 20))
        self.binary = os.path.join(self.dir, "htd")
        shutil.copy2(harness.HTD, self.binary)
        self.pid_file = os.path.join(self.dir, "htd.pid")
        self.others = []

    def start(self):
        return harness.start_htd(self.root, extra=["--pid-file", self.pid_file],
                                 binary=self.binary)

    def replace_binary(self, content=None):
        """A new file at the binary's path, as an install makes it."""
        tmp = self.binary + ".new"
        if content is None:
            shutil.copy2(harness.HTD, tmp)
        else:
            with open(tmp, "w") as f:
                f.write(content)
            os.chmod(tmp, 0o755)
        os.rename(tmp, self.binary)

    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def cleanup(self, srv):
        for pid in self.others:
            harness.kill_pid(pid, signal.SIGTERM)
        for pid in self.others:
            harness.wait_until(lambda: harness.proc_dead(pid), 5, "process %d to stop" % pid)
        srv.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_upgrade_zero_refused_zero_reset(ctx):
    st = _Setup()
    srv = st.start()
    try:
        old = srv.proc.pid
        eq(st.pid(), old, "the pid file before the upgrade")
        st.replace_binary()
        stop, lock, counts = threading.Event(), threading.Lock(), {}
        threads = [threading.Thread(target=_client_loop, args=(srv.addr, stop, counts, lock))
                   for _ in range(4)]
        for t in threads:
            t.start()
        try:
            # A download in flight through the upgrade: the old process
            # finishes it.
            c = harness.download_in_flight(srv)
            time.sleep(0.3)
            with lock:
                before = counts.get("ok", 0)
            srv.send_signal(signal.SIGUSR2)
            harness.wait_until(lambda: st.pid() not in (0, old), what="the new pid in the pid file")
            new = st.pid()
            st.others.append(new)
            r = c.read_response()
            c.close()
            eq(r.status, 200, "the download in flight")
            eq(len(r.body), 8 << 20, "the download's length")
            rc = srv.wait(10)
            check(rc is not None, "the old process did not stop within 10 s of the new one serving")
            eq(rc, 0, "the old process's exit status")
            with lock:
                at_stop = counts.get("ok", 0)
            time.sleep(0.4)  # the new process alone
        finally:
            stop.set()
            for t in threads:
                t.join()
        bad = {k: v for k, v in counts.items() if k != "ok"}
        eq(bad, {}, "connections that failed through the upgrade (%d ok)" % counts.get("ok", 0))
        check(before > 20, "too few requests before the upgrade: %d" % before)
        check(counts["ok"] - at_stop > 20,
              "too few requests served by the new process alone: %d" % (counts["ok"] - at_stop))
        check(not harness.proc_dead(new), "the new process is not running")
        err = srv.stderr()
        check("upgrade: process %d serves now" % new in err, "no hand-over line in %r" % err)
        # The new process serves the same sockets: given port 0, a bound one
        # would have another port. Its serving line is the second.
        lines = [ln for ln in srv.stdout().splitlines() if "serving" in ln]
        eq(len(lines), 2, "serving lines")
        eq(lines[1], lines[0], "the new process's serving line")
        rep = srv.sanitizer_report()
        check(rep is None, "sanitizer report on stderr:\n%s" % rep)
        # It stops on SIGTERM and removes the pid file, which the old one left.
        os.kill(new, signal.SIGTERM)
        harness.wait_until(lambda: harness.proc_dead(new), 5, "the new process to stop")
        check(not os.path.exists(st.pid_file), "the pid file is still there after the stop")
    finally:
        st.cleanup(srv)


def test_upgrade_twice(ctx):
    """The new process upgrades again in its turn (it holds one socket per
    worker, as the first did)."""
    st = _Setup()
    srv = st.start()
    try:
        srv.send_signal(signal.SIGUSR2)
        harness.wait_until(lambda: st.pid() not in (0, srv.proc.pid), what="the first new pid")
        first = st.pid()
        st.others.append(first)
        eq(srv.wait(10), 0, "the first process's exit status")
        os.kill(first, signal.SIGUSR2)
        harness.wait_until(lambda: st.pid() not in (0, first), what="the second new pid")
        second = st.pid()
        st.others.append(second)
        harness.wait_until(lambda: harness.proc_dead(first), 10, "the first new process to stop")
        r = harness.get_addr(srv.addr, "/page.txt")
        eq(r.status, 200, "status from the second new process")
        eq(r.body, BODY, "body from the second new process")
        links = []
        for fd in os.listdir("/proc/%d/fd" % second):
            try:
                links.append(os.readlink("/proc/%d/fd/%s" % (second, fd)))
            except FileNotFoundError:
                pass  # closed meanwhile (a connection)
        socks = [ln for ln in links if ln.startswith("socket:")]
        # Two workers, one listening socket each, and no leftover of the
        # hand-over (the pipe, the old copies).
        check(len(socks) >= 2, "listening sockets of the second new process: %r" % socks)
        check(not any(ln.startswith("pipe:") for ln in links),
              "a pipe left open in the second new process: %r" % links)
    finally:
        st.cleanup(srv)


def test_upgrade_to_a_failing_program_keeps_serving(ctx):
    st = _Setup()
    srv = st.start()
    try:
        st.replace_binary("#!/bin/sh\nexit 3\n")
        srv.send_signal(signal.SIGUSR2)
        harness.wait_until(lambda: "upgrade failed" in srv.stderr(), what="the failure line")
        err = srv.stderr()
        check("exited with status 3 before it served; still serving" in err,
              "the failure line does not say why: %r" % err)
        check(srv.alive(), "the old process stopped")
        eq(st.pid(), srv.proc.pid, "the pid file after a failed upgrade")
        r = harness.get_addr(srv.addr, "/page.txt")
        eq(r.status, 200, "status after a failed upgrade")
        # A second try, with a good program, works.
        st.replace_binary()
        srv.send_signal(signal.SIGUSR2)
        harness.wait_until(lambda: st.pid() not in (0, srv.proc.pid), what="the new pid")
        st.others.append(st.pid())
        eq(srv.wait(10), 0, "the old process's exit status")
    finally:
        st.cleanup(srv)


def test_upgrade_keeps_each_listeners_tls(ctx):
    """A plain and an HTTPS listener, both given as port 0: the new process
    cannot tell them apart from its flags, so the sockets come named by
    their options (LISTEN_FDNAMES), and HTTPS stays HTTPS."""
    import test_tls
    st = _Setup()
    crt, key = test_tls.certs()["default"]
    srv = harness.start_htd(st.root, extra=["--pid-file", st.pid_file, "--tls-listen",
                                            "127.0.0.1:0", "--cert", crt, "--key", key],
                            binary=st.binary)
    try:
        harness.wait_until(lambda: len([ln for ln in srv.stdout().splitlines()
                                        if "serving" in ln]) >= 2, what="both serving lines")
        lines = [ln for ln in srv.stdout().splitlines() if "serving" in ln]
        https = [ln for ln in lines if "https://" in ln][0]
        port = int(https.rstrip("/").rsplit(":", 1)[1])
        srv.send_signal(signal.SIGUSR2)
        harness.wait_until(lambda: st.pid() not in (0, srv.proc.pid), what="the new pid")
        st.others.append(st.pid())
        eq(srv.wait(10), 0, "the old process's exit status")
        r = test_tls.tls_get(("127.0.0.1", port), "/page.txt")
        eq((r.status, r.body), (200, BODY), "HTTPS from the new process")
        r = harness.get_addr(srv.addr, "/page.txt")
        eq((r.status, r.body), (200, BODY), "HTTP from the new process")
        new_lines = [ln for ln in srv.stdout().splitlines() if "serving" in ln][2:]
        eq(sorted(new_lines), sorted(lines), "the new process's serving lines")
    finally:
        st.cleanup(srv)
