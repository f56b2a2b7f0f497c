# SPDX-License-Identifier: BSD-2-Clause
"""The async example (examples/async.c): a handler that returns HTD_AGAIN and
answers later from one of the program's threads through htd_req_resume.
GET /slow?MS sleeps MS ms on a program thread, after an access check made
on those threads too (/slow?403 is refused); every other path is a static
file from ROOT."""

import re
import signal
import time

import harness
from harness import FILE_TXT, check, check_common, check_ok_file, eq, req

SLEPT_RE = re.compile(rb"^slept (\d+) ms on thread (\d+)\n$")


def asyncex(ctx, threads=None):
    args = [] if threads is None else [str(threads)]
    return harness.stops_cleanly(harness.start_example("async", ctx.root.path, *args))


def slept(r, ms):
    eq(r.status, 200, "status of /slow")
    check_common(r)
    eq(r.get("Content-Type"), "text/plain; charset=utf-8", "Content-Type of /slow")
    m = SLEPT_RE.match(r.body)
    check(m is not None, "body of /slow: %r" % r.body)
    eq(int(m.group(1)), ms, "the milliseconds slept")
    return int(m.group(2))


def test_async_answer_from_a_program_thread_over_keepalive_and_pipelining(ctx):
    with asyncex(ctx) as srv:
        c = harness.connect(srv)
        c.send(req("/slow?20"))
        slept(c.read_response(), 20)
        # Pipelined behind and ahead of static files: answers in order.
        c.send(req("/file.txt") + req("/slow?50") + req("/file.txt") + req("/slow?0")
               + req("/slow?9999"))
        check_ok_file(c.read_response(), FILE_TXT)
        slept(c.read_response(), 50)
        check_ok_file(c.read_response(), FILE_TXT)
        slept(c.read_response(), 0)
        eq(c.read_response().status, 400, "status of an answer given at once")
        # The access check, answered from a program thread too: it refuses.
        c.send(req("/slow?403") + req("/slow?5"))
        r = c.read_response()
        eq((r.status, r.body), (403, b"refused by the check\n"), "a request the check refuses")
        slept(c.read_response(), 5)
        c.close()
        srv.check_health()


def test_async_the_worker_serves_others_while_handlers_wait(ctx):
    # One worker: if a waiting handler held it, the file could not come first.
    with asyncex(ctx, threads=1) as srv:
        slow = []
        for _ in range(6):
            s = harness.connect(srv)
            s.send(req("/slow?800"))
            slow.append(s)
        f = harness.connect(srv)
        f.send(req("/file.txt"))
        check_ok_file(f.read_response(), FILE_TXT)
        threads = set()
        for s in slow:
            threads.add(slept(s.read_response(), 800))
            s.close()
        # Six jobs on a pool of eight threads ran side by side.
        check(len(threads) >= 2, "the jobs ran on threads %r" % sorted(threads))
        f.close()
        srv.check_health()


def test_async_client_gone_before_the_answer_leaves_the_server_sane(ctx):
    with asyncex(ctx, threads=2) as srv:
        for _ in range(20):
            c = harness.connect(srv)
            c.send(req("/slow?100"))
            c.close()
        time.sleep(0.3)  # the answers come for clients that have gone
        c = harness.connect(srv)
        c.send(req("/slow?10"))
        slept(c.read_response(), 10)
        c.close()
        srv.check_health()


def test_async_sigterm_waits_for_answers_in_flight(ctx):
    srv = harness.start_example("async", ctx.root.path)
    try:
        c = harness.connect(srv)
        c.send(req("/slow?400"))
        time.sleep(0.1)
        srv.send_signal(signal.SIGTERM)
        slept(c.read_response(), 400)
        c.close()
        eq(srv.wait(timeout=10), 0, "exit status after SIGTERM with an answer in flight")
        check(srv.sanitizer_report() is None, "sanitizer report:\n%s" % srv.sanitizer_report())
    finally:
        srv.cleanup()
