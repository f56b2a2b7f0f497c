# SPDX-License-Identifier: BSD-2-Clause
"""Running out of file descriptors: htd stops accepting for a moment instead of
spinning on a listener it cannot accept from, serves the connections it has,
and takes the waiting ones once descriptors are free again."""

import signal
import socket
import time

import harness
from harness import FILE_TXT, check, eq, req


def _cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_out_of_descriptors_neither_spins_nor_loses_connections(ctx):
    srv = harness.start_htd(ctx.root.path, threads=1, prefix=["prlimit", "--nofile=40:40"])
    socks = []
    try:
        for _ in range(60):
            s = socket.create_connection(srv.addr, timeout=harness.TIMEOUT)
            s.sendall(req("/file.txt"))
            socks.append(s)
        t0 = _cpu_ticks(srv.proc.pid)
        time.sleep(1.0)
        used = _cpu_ticks(srv.proc.pid) - t0
        check(used < 30, "htd used %d ticks of CPU in 1 s at its descriptor limit" % used)
        for s in socks[:30]:
            s.close()
        # The last connections waited in the backlog; now they are answered.
        for s in socks[-5:]:
            c = harness.Conn(s)
            r = c.read_response()
            eq(r.status, 200, "status after descriptors were freed")
            eq(r.body, FILE_TXT, "body")
    finally:
        for s in socks:
            s.close()
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()


def test_stop_while_accepting_is_paused_does_not_spin(ctx):
    srv = harness.start_htd(ctx.root.path, threads=1, prefix=["prlimit", "--nofile=24:24"],
                            extra=["--header-timeout", "3"])
    socks = []
    try:
        for _ in range(30):  # more than the descriptors: accepting pauses
            s = socket.create_connection(srv.addr, timeout=harness.TIMEOUT)
            s.sendall(b"GET /file.txt HTTP/1.1\r\n")  # a head that never ends
            socks.append(s)
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        t0 = _cpu_ticks(srv.proc.pid)
        time.sleep(1.0)
        if srv.proc.poll() is None:
            used = _cpu_ticks(srv.proc.pid) - t0
            check(used < 30, "htd used %d ticks of CPU in 1 s while stopping" % used)
        eq(srv.proc.wait(timeout=10), 0, "exit status once the heads time out")
    finally:
        for s in socks:
            s.close()
        srv.cleanup()


def _served(srv, path="/file.txt"):
    """A new keep-alive connection that got its answer, or None if htd closed it unanswered."""
    c = harness.connect(srv)
    try:
        c.send(req(path))
        r = c.read_response()
    except (harness.TestFailure, ConnectionError, OSError):
        c.close()
        return None
    eq(r.status, 200, "status on a connection within the limit")
    return c


def _refused(srv):
    """A new connection that htd closes at once, before any answer."""
    c = harness.connect(srv)
    try:
        c.send(req("/file.txt"))
    except OSError:
        pass
    shut = c.at_eof(2.0)
    c.close()
    return shut


def _limit_holds(srv, n):
    held = [_served(srv) for _ in range(n)]
    check(all(held), "the first %d connections were not all served" % n)
    try:
        for i in range(3):
            check(_refused(srv), "connection %d over the limit of %d was answered" % (n + i + 1, n))
        # The held ones still work, and closing one makes room for one more.
        held[0].send(req("/file.txt"))
        eq(held[0].read_response().status, 200, "a held connection after the refusals")
        held.pop().close()
        more = []
        harness.wait_until(lambda: more.append(_served(srv)) or more[-1], what="room for one more")
        held.append(more[-1])
        check(_refused(srv), "a connection over the limit once it is full again was answered")
    finally:
        for c in held:
            c.close()
    eq(srv.stop(), 0, "exit status")
    check(srv.sanitizer_report() is None, "sanitizer report")
    srv.cleanup()


def test_connections_per_client_address_are_capped(ctx):
    """Four threads, so the connections of one address land on several
    workers (SO_REUSEPORT): the count is the server's, not a worker's."""
    _limit_holds(harness.start_htd(ctx.root.path, threads=4, extra=["--max-conns-per-ip", "3"]), 3)


def test_connections_per_server_are_capped(ctx):
    _limit_holds(harness.start_htd(ctx.root.path, threads=4, extra=["--max-conns", "5"]), 5)


def test_connection_limit_per_address_from_the_config_file(ctx):
    conf = 'root = "%s";\nmax_conns_per_ip = 2;\nipv6_prefix = 56;\n' % ctx.root.path
    _limit_holds(harness.start_htd_config(conf, threads=2), 2)


def test_memory_budget_refuses_new_requests_with_503_and_recovers(ctx):
    """--memory-budget 256K on one worker: connections that each hold a
    half-sent head (a read buffer and a request object, 32 KiB) spend it;
    then a new request is answered 503 with Retry-After and closed, those
    already under way are unharmed, and once they go new requests are
    served again."""
    srv = harness.start_htd(ctx.root.path, threads=1, extra=["--memory-budget", "256K"])
    holders = []
    try:
        refused = None
        for i in range(40):
            probe = harness.connect(srv)
            probe.send(req("/file.txt"))
            r = probe.read_response()
            probe.close()
            if r.status == 503:
                refused = r
                break
            eq(r.status, 200, "status while the budget lasts")
            h = harness.connect(srv)
            h.send(b"GET /file.txt HTTP/1.1\r\nHost: x\r\n")  # the rest never comes
            holders.append(h)
            time.sleep(0.02)
        check(refused is not None, "no 503 with %d half-sent heads held" % len(holders))
        check(len(holders) >= 4, "503 after only %d held heads" % len(holders))
        eq(refused.get("Retry-After"), "5", "Retry-After of the 503")
        eq(refused.get("Connection", "").lower(), "close", "Connection of the 503")
        # One under way finishes.
        holders[0].send(b"\r\n")
        r = holders[0].read_response()
        eq(r.status, 200, "a request that was under way")
        eq(r.body, FILE_TXT, "its body")
        for h in holders:
            h.close()
        holders = []
        got = []
        harness.wait_until(lambda: got.append(harness.get(srv, "/file.txt")) or
                           got[-1].status == 200, what="a request served once the budget is free")
    finally:
        for h in holders:
            h.close()
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()
