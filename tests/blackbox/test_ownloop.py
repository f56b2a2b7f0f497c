# SPDX-License-Identifier: BSD-2-Clause
"""The own-loop example (examples/ownloop.c): htd driven by the program's own
poll() loop through htd_server_start, htd_server_fd, htd_server_timeout and
htd_server_run_once. Its /status handler reports the program's timer ticks
and the thread that ran it; static files from ROOT for every other path;
SIGTERM through its signalfd stops it gracefully."""

import os
import signal
import time

import harness
from harness import FILE_TXT, STYLE_CSS, check, check_common, check_ok_file, eq, req


def ownloop(ctx, threads=None):
    """`with ownloop(ctx) as srv:` the example with THREADS workers, stopped
    by SIGTERM after the body, which it must survive to exit 0."""
    args = [] if threads is None else [str(threads)]
    return harness.stops_cleanly(harness.start_example("ownloop", ctx.root.path, *args))


def status_of(r):
    """The /status response checked and read: {"ticks", "thread", "main"}."""
    eq(r.status, 200, "status of /status")
    check_common(r)
    eq(r.get("Content-Type"), "text/plain; charset=utf-8", "Content-Type of /status")
    fields = dict(line.split(" ", 1) for line in r.body.decode().splitlines())
    eq(sorted(fields), ["main", "thread", "ticks"], "fields of /status")
    return {k: int(v) for k, v in fields.items()}


def test_ownloop_serves_its_route_and_files_over_keepalive_and_pipelining(ctx):
    # One worker: every request is served inside the program's loop.
    with ownloop(ctx, threads=1) as srv:
        check(harness.SERVING_RE.match(srv.serving_line) is not None,
              "serving line %r not in htd's form" % srv.serving_line)
        c = harness.connect(srv)
        for _ in range(3):
            c.send(req("/status"))
            eq(status_of(c.read_response())["main"], 1, "handler on the main thread")
            c.send(req("/file.txt"))
            check_ok_file(c.read_response(), FILE_TXT, "text/plain; charset=utf-8")

        c.send(req("/status") + req("/file.txt") + req("/style.css") + req("/nope.txt")
               + req("/status", "HEAD") + req("/status"))
        first = status_of(c.read_response())
        check_ok_file(c.read_response(), FILE_TXT)
        check_ok_file(c.read_response(), STYLE_CSS, "text/css; charset=utf-8")
        eq(c.read_response().status, 404, "status of a missing file, pipelined")
        h = c.read_response("HEAD")
        eq((h.status, h.body), (200, b""), "HEAD /status, pipelined")
        last = status_of(c.read_response())
        eq((first["main"], last["main"]), (1, 1), "pipelined handlers on the main thread")
        eq(last["thread"], srv.proc.pid, "the main thread's id")
        check(last["ticks"] >= first["ticks"], "ticks went back: %r, %r" % (first, last))
        c.close()
        srv.check_health()


def test_ownloop_counts_its_own_timer_while_a_response_is_in_flight(ctx):
    with ownloop(ctx, threads=1) as srv:
        down = harness.download_in_flight(srv)
        c = harness.connect(srv)
        c.send(req("/status"))
        before = status_of(c.read_response())["ticks"]
        time.sleep(0.3)
        c.send(req("/status"))
        after = status_of(c.read_response())["ticks"]
        # 10 ms ticks: about 30 in 0.3 s; a loaded machine may merge some,
        # which the timerfd counts all the same.
        check(after - before >= 10, "ticks in 0.3 s: %d, then %d" % (before, after))
        harness.check_big(down.read_response(), ctx.root, "the download")
        down.close()
        c.close()
        srv.check_health()


def test_ownloop_sigterm_with_a_download_in_flight_exits_0(ctx):
    with ownloop(ctx) as srv:
        idle = harness.connect(srv)
        idle.send(req("/status"))
        status_of(idle.read_response())
        down = harness.download_in_flight(srv)
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the stop has begun while the response is still going
        check(srv.alive(), "the example exited with a response in flight")
        harness.check_big(down.read_response(), ctx.root, "the download after SIGTERM")
        check(down.at_eof(5), "connection not closed after the in-flight response")
        check(idle.at_eof(5), "idle keep-alive connection not closed by the stop")
        check(srv.wait(5) is not None, "the example did not exit within 5 s of the response's end")
        down.close()
        idle.close()


def test_handlers_run_on_four_threads_at_once(ctx):
    with ownloop(ctx, threads=4) as srv:
        # All connected and asking before any answer is read: SO_REUSEPORT
        # spreads them over the four workers' listening sockets.
        conns = [harness.connect(srv) for _ in range(48)]
        for c in conns:
            c.send(req("/status") + req("/file.txt"))
        threads = set()
        for c in conns:
            st = status_of(c.read_response())
            eq(st["main"], int(st["thread"] == srv.proc.pid), "main flag of thread %d" % st["thread"])
            threads.add(st["thread"])
            check_ok_file(c.read_response(), FILE_TXT)
            c.close()
        tasks = {int(t) for t in os.listdir("/proc/%d/task" % srv.proc.pid)}
        check(threads <= tasks, "thread ids %r not all threads of the example %r" % (threads, tasks))
        check(2 <= len(threads) <= 4, "threads that answered: %r" % threads)
        srv.check_health()
