# SPDX-License-Identifier: BSD-2-Clause
"""Request rate limits (rate_limit): 429 with Retry-After past rate + burst
and allowed again after waiting, exactly `burst` extra requests at once,
delay mode (each request no earlier than its turn, beyond the burst 429),
a connection that leaves while it waits, a flood of distinct keys in a
64-word table that leaves a hot key's limit whole (and memory flat), the
limit over 4 worker threads within 10 %, a limited rule beside unlimited
paths, rules apart and a vhost's limit shared by its rules, key "user"
after Basic auth (and key "addr" counting password guesses before it),
buckets kept across a reload."""

import os
import signal
import threading
import time

import harness
from harness import check, config_server, connect, eq, req

SITE = {"site/f.txt": b"file\n", "site/limited/f.txt": b"limited\n",
        "site/free/f.txt": b"free\n", "site/a/f.txt": b"a\n", "site/b/f.txt": b"b\n"}


def statuses(srv, path, n, headers=None):
    """n requests for path on one keep-alive connection, pipelined; their
    statuses."""
    c = connect(srv)
    try:
        c.send(b"".join(req(path, headers=headers) for _ in range(n)))
        return [c.read_response().status for _ in range(n)]
    finally:
        c.close()


def one(srv, path, headers=None):
    c = connect(srv)
    try:
        c.send(req(path, headers=headers))
        return c.read_response()
    finally:
        c.close()


def test_over_rate_and_burst_is_429_with_retry_after_then_allowed_again(ctx):
    conf = '''root = "site";
access_log = "log";
log_format = "$status $uri";
rules = (
  { prefix = "/limited/"; rate_limit = { rate = "2r/s"; burst = 1; }; },
  { exact = "/slow"; rate_limit = { rate = "40r/m"; }; }
);
'''
    with config_server(conf, files=SITE) as srv:
        # 2 r/s with burst 1: two at once, the third refused.
        eq(statuses(srv, "/limited/f.txt", 3), [200, 200, 429], "three at once")
        r = one(srv, "/limited/f.txt")
        eq(r.status, 429, "a fourth at once")
        eq(r.reason, "Too Many Requests", "reason phrase")
        eq(r.get("Retry-After"), "1", "Retry-After: half a second, rounded up")
        eq(r.get("Content-Type"), harness.ERROR_CT, "Content-Type")
        check(r.body.startswith(b"too many requests"), "short body, got %r" % r.body)
        # Half a second later one more is within the rate, and only one.
        time.sleep(0.55)
        eq(statuses(srv, "/limited/f.txt", 2), [200, 429], "after waiting an interval")
        # 40 r/m, no burst: the next is 1.5 s away, so Retry-After: 2.
        eq(one(srv, "/slow").status, 404, "the first (no such file)")
        r = one(srv, "/slow")
        eq(r.status, 429, "the second at once")
        eq(r.get("Retry-After"), "2", "Retry-After in whole seconds, rounded up")
        # A refused request is not counted: 1.5 s after the first, one is
        # allowed.
        for _ in range(5):
            eq(one(srv, "/slow").status, 429, "refused while waiting")
        time.sleep(1.55)
        eq(one(srv, "/slow").status, 404, "allowed after the interval")
        # Logged as any response (the log is written once a second).
        want = ["200 /limited/f.txt"] * 3 + ["429 /limited/f.txt"] * 3

        def logged():
            lines = srv.confdir.read("log").decode().splitlines()
            return sorted(l for l in lines if "/limited/" in l) == want
        harness.wait_until(logged, 3, "the access log's lines: %r" % want)


def test_burst_lets_exactly_that_many_extra_requests_through_at_once(ctx):
    conf = '''root = "site";
rules = (
  { prefix = "/limited/"; rate_limit = { rate = "1r/m"; burst = 7; key = "addr"; delay = false; }; }
);
'''
    with config_server(conf, files=SITE) as srv:
        got = statuses(srv, "/limited/f.txt", 12)
        eq(got, [200] * 8 + [429] * 4, "1 within the rate + 7 of burst, at once")
        # Spread over connections it is the same bucket (one address).
        eq(one(srv, "/limited/f.txt").status, 429, "a new connection")


def _timed_requests(srv, path, n):
    """n requests on n connections sent together; [(seconds after the
    send, status)] in the order the answers came, and the send time."""
    conns = [connect(srv, nodelay=True) for _ in range(n)]
    out, lock = [], threading.Lock()

    def read(c):
        r = c.read_response()
        with lock:
            out.append((time.monotonic() - t0, r.status))

    try:
        threads = [threading.Thread(target=read, args=(c,)) for c in conns]
        t0 = time.monotonic()
        for c in conns:
            c.send(req(path))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for c in conns:
            c.close()
    return sorted(out)


def test_delay_mode_answers_each_request_no_earlier_than_its_turn(ctx):
    conf = '''root = "site";
rules = (
  { prefix = "/limited/"; rate_limit = { rate = "10r/s"; burst = 4; delay = true; }; }
);
'''
    with config_server(conf, files=SITE) as srv:
        got = _timed_requests(srv, "/limited/f.txt", 8)
        refused = [t for t, s in got if s == 429]
        served = [t for t, s in got if s == 200]
        eq(len(served), 5, "1 at once + 4 delayed (answers %r)" % got)
        eq(len(refused), 3, "beyond the burst: 429 (answers %r)" % got)
        check(all(t < 0.2 for t in refused), "429s came at once, not in turn: %r" % got)
        for k, t in enumerate(served):
            check(t >= 0.1 * k - 0.001, "answer %d at %.3f s, before its turn at %.1f s (%r)"
                  % (k, t, 0.1 * k, got))
            check(t < 0.1 * k + 0.3, "answer %d at %.3f s, long after its turn at %.1f s"
                  % (k, t, 0.1 * k))
        # The queue has drained by its own rate: one more waits 0 or 1 turn.
        time.sleep(0.5)
        got = _timed_requests(srv, "/limited/f.txt", 1)
        eq(got[0][1], 200, "after the queue drained")


def test_delayed_requests_that_leave_or_meet_a_stop_end_cleanly(ctx):
    """Clients that leave while they wait have their timers taken off
    (ASan would see a timer fire into a freed request), and a graceful stop
    waits for a delayed request's answer, then exits 0 at once."""
    conf = '''root = "site";
rules = (
  { prefix = "/limited/"; rate_limit = { rate = "10r/s"; burst = 20; delay = true; }; }
);
'''
    srv = harness.start_htd_config(conf, files=SITE, threads=1)
    with harness.stops_cleanly(srv):
        conns = [connect(srv) for _ in range(10)]
        for c in conns:
            c.send(req("/limited/f.txt"))
        eq(conns[0].read_response().status, 200, "the first, at once")
        for c in conns:  # the others wait 0.1 to 0.9 s for their turn: leave
            c.close()
        time.sleep(1.0)  # past every turn they had
        eq(one(srv, "/f.txt").status, 200, "the server goes on")
        time.sleep(1.1)  # the bucket drains
        waiting = [connect(srv) for _ in range(2)]
        for c in waiting:
            c.send(req("/limited/f.txt"))
        time.sleep(0.02)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        got = sorted(c.read_response().status for c in waiting)
        eq(got, [200, 200], "answered during the stop")
        eq(srv.wait(5), 0, "exit status")
        check(time.monotonic() - t0 < 1.0, "the stop took %.2f s" % (time.monotonic() - t0))


def _rss_kib(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_a_flood_of_distinct_keys_leaves_a_hot_keys_limit_whole(ctx):
    """64 words (8 sets), 3,000 keys: every set full of live keys, so new keys
    push out one another; the hot key, over its limit, is further ahead than
    any of them and keeps its bucket. Memory does not grow with keys."""
    conf = '''root = "site";
rate_limit_slots = 64;
max_requests = 100000000;
rules = (
  { prefix = "/limited/"; rate_limit = { rate = "10r/s"; burst = 5; key = "header:X-Key"; }; }
);
'''
    with config_server(conf, files=SITE) as srv:
        flood_ok, stop = [0], threading.Event()
        hot_ok = [0]

        def flood(first):
            k = first
            c = connect(srv)
            try:
                while not stop.is_set():
                    batch = [req("/limited/f.txt", headers=[("X-Key", "k%d" % (k + i))])
                             for i in range(50)]
                    k += 50
                    c.send(b"".join(batch))
                    flood_ok[0] += sum(c.read_response().status == 200 for _ in batch)
                    time.sleep(0.01)
            finally:
                c.close()

        # Warm the pools, then measure.
        statuses(srv, "/limited/f.txt", 200, headers=[("X-Key", "warm")])
        rss0 = _rss_kib(srv)
        floods = [threading.Thread(target=flood, args=(i * 10 ** 6,)) for i in range(2)]
        for t in floods:
            t.start()
        c = connect(srv)
        t0 = time.monotonic()
        n = 0
        try:
            while time.monotonic() - t0 < 2.0:
                c.send(req("/limited/f.txt", headers=[("X-Key", "hot")]))
                s = c.read_response().status
                check(s in (200, 429), "hot key: %d" % s)
                hot_ok[0] += s == 200
                n += 1
            elapsed = time.monotonic() - t0
        finally:
            c.close()
            stop.set()
            for t in floods:
                t.join()
        rss1 = _rss_kib(srv)
        want = 6 + 10 * elapsed
        check(flood_ok[0] >= 3000, "too few distinct keys: %d" % flood_ok[0])
        check(abs(hot_ok[0] - want) <= 0.1 * want,
              "hot key: %d of %d allowed in %.2f s, want %.0f +- 10 %% (with %d other keys)"
              % (hot_ok[0], n, elapsed, want, flood_ok[0]))
        check(rss1 - rss0 < 1024, "RSS grew by %d KiB over %d keys" % (rss1 - rss0, flood_ok[0]))


def _thread_ticks(pid):
    """{tid: user + system clock ticks} of every thread of pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return out


def test_the_limit_holds_over_four_worker_threads(ctx):
    """32 connections from one address over 4 workers (SO_REUSEPORT spreads
    them), for 2 s, at 50 r/s with burst 10: 10 + 1 + 50 per second, within
    10 %, as if one worker counted them all."""
    conf = '''root = "site";
max_requests = 100000000;
rate_limit = { rate = "50r/s"; burst = 10; };
'''
    with config_server(conf, files=SITE, threads=4) as srv:
        before = _thread_ticks(srv.proc.pid)
        ok, total, lock = [0], [0], threading.Lock()
        conns = [connect(srv) for _ in range(32)]
        t0 = time.monotonic()

        def hammer(c):
            mine = seen = 0
            while time.monotonic() - t0 < 2.0:
                c.send(req("/f.txt"))
                s = c.read_response().status
                check(s in (200, 429), "status %d" % s)
                mine += s == 200
                seen += 1
            with lock:
                ok[0] += mine
                total[0] += seen

        threads = [threading.Thread(target=hammer, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        for c in conns:
            c.close()
        after = _thread_ticks(srv.proc.pid)
        busy = sum(1 for tid, t in after.items() if t > before.get(tid, 0))
        want = 11 + 50 * elapsed
        check(total[0] > 4 * want, "too few requests to test the limit: %d" % total[0])
        check(abs(ok[0] - want) <= 0.1 * want, "%d of %d allowed in %.2f s; want %.0f +- 10 %%"
              % (ok[0], total[0], elapsed, want))
        check(busy >= 3, "the requests reached only %d threads" % busy)


def test_a_limited_rule_beside_unlimited_paths_and_rules_apart(ctx):
    conf = '''root = "site";
rules = (
  { prefix = "/limited/"; rate_limit = { rate = "1r/m"; }; },
  { prefix = "/a/"; rate_limit = { rate = "1r/m"; burst = 1; }; },
  { prefix = "/b/"; rate_limit = { rate = "1r/m"; burst = 1; }; }
);
vhosts = (
  { names = "v.test"; root = "site";
    rate_limit = { rate = "1r/m"; burst = 2; };
    rules = ( { prefix = "/a/"; }, { prefix = "/free/"; rate_limit = "off"; } ); }
);
'''
    with config_server(conf, files=SITE) as srv:
        eq(statuses(srv, "/limited/f.txt", 3), [200, 429, 429], "the limited rule")
        eq(statuses(srv, "/f.txt", 30), [200] * 30, "beside it, no limit")
        eq(statuses(srv, "/free/f.txt", 30), [200] * 30, "another path, no limit")
        # Two rules with the same settings have buckets of their own.
        eq(statuses(srv, "/a/f.txt", 3), [200, 200, 429], "rule /a/")
        eq(statuses(srv, "/b/f.txt", 3), [200, 200, 429], "rule /b/, not /a/'s bucket")
        # A vhost's limit is one bucket for the vhost, its rules that
        # inherit it included; "off" lifts it; the top level is apart.
        c = connect(srv)
        try:
            got = []
            for p in ("/f.txt", "/a/f.txt", "/f.txt", "/a/f.txt", "/free/f.txt", "/free/f.txt"):
                c.send(req(p, host="v.test"))
                got.append(c.read_response().status)
        finally:
            c.close()
        eq(got, [200, 200, 200, 429, 200, 200], "the vhost's bucket over its rules")


def test_key_user_counts_each_accepted_user_and_key_addr_counts_guesses(ctx):
    cd = harness.ConfDir(SITE)
    try:
        for i, (u, pw) in enumerate([("alice", "alice-pw"), ("bob", "bob-pw")]):
            harness.tool(["htpasswd", "-bB" + ("c" if i == 0 else ""), "-C", "5",
                          cd.p("users"), u, pw], "apt-get install apache2-utils")
        conf = '''root = "site";
rules = (
  { prefix = "/a/"; auth = { realm = "A"; htpasswd = "users"; };
    rate_limit = { rate = "1r/m"; burst = 1; key = "user"; }; },
  { prefix = "/b/"; auth = { realm = "B"; htpasswd = "users"; };
    rate_limit = { rate = "1r/m"; burst = 2; key = "addr"; }; },
  { prefix = "/free/"; rate_limit = { rate = "1r/m"; key = "user"; }; }
);
'''
        srv = harness.start_htd_config(conf, confdir=cd)
        with harness.stops_cleanly(srv):
            alice = [harness.basic("alice", "alice-pw")]
            bob = [harness.basic("bob", "bob-pw")]
            wrong = [harness.basic("alice", "nope")]
            # 401s come before the user is known: they do not count.
            eq(statuses(srv, "/a/f.txt", 3), [401] * 3, "no credentials")
            eq(statuses(srv, "/a/f.txt", 2, headers=wrong), [401] * 2, "a wrong password")
            eq(statuses(srv, "/a/f.txt", 3, headers=alice), [200, 200, 429], "alice's bucket")
            eq(statuses(srv, "/a/f.txt", 3, headers=bob), [200, 200, 429], "bob's, apart")
            r = one(srv, "/a/f.txt", headers=alice)
            eq(r.status, 429, "alice again")
            check(int(r.get("Retry-After", "0")) >= 59, "Retry-After %r" % r.get("Retry-After"))
            # Keyed by address, the limit comes before the password check:
            # guesses count, and the right password after them is refused.
            eq(statuses(srv, "/b/f.txt", 2, headers=wrong), [401, 401], "two guesses")
            eq(statuses(srv, "/b/f.txt", 2, headers=alice), [200, 429], "then the right one")
            # key user where no realm asks: by address.
            eq(statuses(srv, "/free/f.txt", 2, headers=alice), [200, 429], "no realm: by address")
            eq(statuses(srv, "/free/f.txt", 1, headers=bob), [429], "another name, same address")
    finally:
        cd.cleanup()


def test_buckets_outlive_a_reload(ctx):
    conf = '''root = "site";
rules = ( { prefix = "/limited/"; rate_limit = { rate = "1r/m"; }; } );
'''
    with config_server(conf, files=SITE) as srv:
        eq(statuses(srv, "/limited/f.txt", 2), [200, 429], "before the reload")
        since = len(srv.stderr())
        srv.confdir.write_conf(conf + 'headers = { X-Reloaded = "yes"; };\n')
        srv.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "reloaded" in srv.stderr()[since:], what="the reload")
        r = one(srv, "/limited/f.txt")
        eq(r.get("X-Reloaded"), "yes", "the new config applies")
        eq(r.status, 429, "the same place keeps its bucket")
        # The table's size is read at start only, and a reload says so.
        since = len(srv.stderr())
        srv.confdir.write_conf(conf + 'rate_limit_slots = 128;\n')
        srv.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "rate_limit_slots changed" in srv.stderr()[since:],
                           what="the reload's note")
        eq(one(srv, "/limited/f.txt").status, 429, "still the same bucket")
