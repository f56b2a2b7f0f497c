# SPDX-License-Identifier: BSD-2-Clause
"""Signals with a config file: SIGHUP reloads it (a new redirect, a new vhost,
a changed htpasswd file take effect; a bad file keeps the old configuration
serving and says "reload failed: FILE:LINE"; start-only settings are kept;
flags still override); a storm of SIGHUPs alternating two configs under
load fails no request and mixes no two configs in one response; SIGUSR1
reopens every access log after a rename."""

import os
import re
import signal
import threading
import time

import harness
from harness import (ConfDir, basic, check, config_server, connect, eq, fail, get, req,
                     wait_until)

V1 = '''root = "one";
access_log = "off";
rules = (
  { exact = "/a"; redirect = "/from-v1"; }
);
'''
V2 = '''root = "one";
access_log = "off";
error_pages = ( { status = 404; page = "/404.html"; } );
rules = (
  { exact = "/a"; redirect = "/from-v2"; },
  { prefix = "/new/"; redirect = "/newer/$1"; code = 301; }
);
vhosts = (
  { names = "new.test"; root = "two"; }
);
'''
FILES = {"one/v.txt": b"version one\n", "one/404.html": b"<p>v2 404 page</p>\n",
         "two/v.txt": b"version two, a longer body\n"}


def wait_stderr(srv, pattern, since, timeout=5.0):
    """Waits for a stderr line matching the regex pattern after offset since
    (a pattern anchored with ^ matches the message of an error log line)."""
    if pattern.startswith("^"):
        pattern = "^" + harness.ERRLOG_PREFIX + pattern[1:]
    rx = re.compile(pattern, re.M)

    def found():
        return rx.search(srv.stderr()[since:])
    try:
        return wait_until(found, timeout, "stderr %r" % pattern)
    except harness.TestFailure:
        fail("no stderr line matching %r within %.0f s; stderr after the signal: %r"
             % (pattern, timeout, srv.stderr()[since:][:1500]))


def reload(srv, text=None):
    """Writes text (if given) as the config, sends SIGHUP, waits for
    `htd: reloaded FILE`."""
    if text is not None:
        srv.confdir.write_conf(text)
    since = len(srv.stderr())
    srv.send_signal(signal.SIGHUP)
    wait_stderr(srv, r"^htd: reloaded %s$" % re.escape(srv.conf_path), since)


def test_sighup_reload_applies_a_new_rule_vhost_and_error_page(ctx):
    with config_server(V1, files=FILES) as srv:
        eq(get(srv, "/a").get("Location"), "/from-v1", "v1 rule")
        eq(get(srv, "/new/x").status, 404, "no /new/ rule in v1")
        eq(get(srv, "/v.txt", host="new.test").body, b"version one\n", "no new.test vhost in v1")
        kept = connect(srv)
        kept.send(req("/new/y"))
        eq(kept.read_response().status, 404, "before the reload, on a keep-alive connection")
        reload(srv, V2)
        kept.send(req("/new/y"))
        eq(kept.read_response().get("Location"), "/newer/y",
           "the same keep-alive connection sees the new rule")
        kept.close()
        r = get(srv, "/new/x?q=1")
        eq((r.status, r.get("Location")), (301, "/newer/x?q=1"), "the new redirect after SIGHUP")
        eq(get(srv, "/a").get("Location"), "/from-v2", "the changed rule")
        eq(get(srv, "/v.txt", host="new.test").body, b"version two, a longer body\n",
           "the new vhost")
        r = get(srv, "/missing")
        eq((r.status, r.body), (404, b"<p>v2 404 page</p>\n"), "the new error page")
        check(srv.alive(), "alive")


def test_sighup_bad_config_keeps_the_old_one_serving(ctx):
    with config_server(V1, files=FILES) as srv:
        for bad, line in (('root = "one";\naccess_log = "off";\nrules = ( { exact = = "/a"; } );\n', 3),
                          ('root = "one";\naccess_log = "off";\n\nbogus_key = 1;\n', 4),
                          ('root = "one";\nrules = (\n'
                           '  { exact = "/a"; redirect = "/x"; code = 300; }\n);\n', 3),
                          ('root = "missing-dir";\n', 1)):
            srv.confdir.write_conf(bad)
            since = len(srv.stderr())
            srv.send_signal(signal.SIGHUP)
            m = wait_stderr(srv, r"^htd: reload failed: (.*)$", since)
            check(re.match(r"^%s:%d: \S" % (re.escape(srv.conf_path), line), m.group(1)),
                  "reload failed line %r does not name %s:%d" % (m.group(0), srv.conf_path, line))
            check("reloaded" not in srv.stderr()[since:], "said reloaded too")
            r = get(srv, "/a")
            eq((r.status, r.get("Location")), (302, "/from-v1"), "the old config still serves")
            eq(get(srv, "/v.txt").body, b"version one\n", "the old root still serves")
        reload(srv, V2)
        eq(get(srv, "/a").get("Location"), "/from-v2", "a good file after bad ones")


def test_sighup_reload_rereads_the_htpasswd_file(ctx):
    conf = '''root = "one";
access_log = "off";
rules = ( { prefix = "/"; auth = { realm = "R"; htpasswd = "users.htpasswd"; }; } );
'''
    cd = ConfDir(FILES)
    try:
        harness.tool(["htpasswd", "-cbB", cd.p("users.htpasswd"), "alice", "first-pw"])
        with config_server(conf, confdir=cd) as srv:
            eq(get(srv, "/v.txt", headers=[basic("alice", "first-pw")]).status, 200, "first-pw")
            eq(get(srv, "/v.txt", headers=[basic("alice", "first-pw")]).status, 200, "cached")
            harness.tool(["htpasswd", "-cbB", cd.p("users.htpasswd"), "alice", "second-pw"])
            reload(srv)
            eq(get(srv, "/v.txt", headers=[basic("alice", "first-pw")]).status, 401,
               "the old password after the file changed and a reload (no stale cache)")
            eq(get(srv, "/v.txt", headers=[basic("alice", "second-pw")]).status, 200, "the new one")
    finally:
        cd.cleanup()


def test_sighup_htpasswd_turned_md5_fails_naming_it_and_a_new_log_path_applies(ctx):
    conf = '''root = "one";
access_log = "logs/%s.log";
log_format = "$request_uri";
rules = ( { prefix = "/p/"; auth = { realm = "R"; htpasswd = "users.htpasswd"; }; } );
'''
    cd = ConfDir(FILES)
    cd.mkdir("logs")
    try:
        harness.tool(["htpasswd", "-cbB", cd.p("users.htpasswd"), "alice", "pw"])
        good = cd.read("users.htpasswd")
        with config_server(conf % "first", confdir=cd) as srv:
            get(srv, "/v.txt?1")
            md5 = harness.tool(["htpasswd", "-nbm", "mallory", "pw"]).strip()
            cd.write("users.htpasswd", good + b"\n" + md5.encode() + b"\n")
            since = len(srv.stderr())
            srv.send_signal(signal.SIGHUP)
            m = wait_stderr(srv, r"^htd: reload failed: (.*)$", since)
            check(re.match(r"^\S*users\.htpasswd:3: user mallory: MD5-apr1 hashes are refused",
                           m.group(1)), "the failed reload names the htpasswd line: %r" % m.group(0))
            eq(get(srv, "/p/x", headers=[basic("alice", "pw")]).status, 404,
               "the old users still work (404: no such file, past auth)")
            cd.write("users.htpasswd", good)
            reload(srv, conf % "second")
            get(srv, "/v.txt?2")
        eq(sorted((harness.read_file(cd.p("logs/first.log")) or "").splitlines()),
           ["/p/x", "/v.txt?1"], "the first log (threads write in their own order)")
        eq(harness.read_file(cd.p("logs/second.log")), "/v.txt?2\n", "the log after the reload")
    finally:
        cd.cleanup()


def test_reload_keeps_start_only_settings_and_says_so(ctx):
    conf = 'root = "one";\naccess_log = "off";\nmax_requests = 100;\n'
    with config_server(conf, files=FILES) as srv:
        since = len(srv.stderr())
        reload(srv, 'root = "two";\naccess_log = "off";\nmax_requests = 2;\n')
        check("max_requests" in srv.stderr()[since:],
              "the reload does not say that max_requests is kept: %r" % srv.stderr()[since:])
        c = connect(srv)
        for i in range(3):
            c.send(req("/v.txt"))
            r = c.read_response()
            eq(r.body, b"version two, a longer body\n", "the new root (request %d)" % (i + 1))
        check(r.get("Connection") != "close", "max_requests = 2 applied by a reload")
        c.close()


def test_reload_keeps_command_line_overrides(ctx):
    cd = ConfDir(FILES)
    try:
        with config_server('root = "one";\naccess_log = "off";\n', confdir=cd,
                           extra=["--root", cd.p("two")]) as srv:
            eq(get(srv, "/v.txt").body, b"version two, a longer body\n", "--root at start")
            reload(srv, 'root = "one";\naccess_log = "off";\n'
                        'rules = ( { exact = "/r"; redirect = "/x"; } );\n')
            eq(get(srv, "/r").status, 302, "the reloaded rule")
            eq(get(srv, "/v.txt").body, b"version two, a longer body\n", "--root after SIGHUP")
    finally:
        cd.cleanup()


STORM = '''root = "%(root)s";
access_log = "logs/access.log";
log_format = "$status $request_uri";
headers = { X-Version = "%(v)s"; };
rules = ( { exact = "/r"; redirect = "/to-%(v)s"; } );
'''
BODIES = {b"version one\n": "1", b"version two, a longer body\n": "2"}


def test_sighup_storm_under_load_fails_no_request(ctx):
    confs = [STORM % {"root": "one", "v": "1"}, STORM % {"root": "two", "v": "2"}]
    cd = ConfDir(FILES)
    cd.mkdir("logs")
    try:
        with config_server(confs[0], confdir=cd) as srv:
            stop = threading.Event()
            lock = threading.Lock()
            stats = {"ok": 0, "failed": 0, "seen": set(), "errors": []}

            def failed(what):
                with lock:
                    stats["failed"] += 1
                    if len(stats["errors"]) < 5:
                        stats["errors"].append(what)

            def one(c):
                c.send(req("/v.txt"))
                r = c.read_response()
                v = BODIES.get(r.body)
                if r.status != 200 or v is None or r.get("X-Version") != v:
                    failed("status %s, X-Version %r, body %r" % (r.status, r.get("X-Version"),
                                                                 r.body[:80]))
                    return False
                with lock:
                    stats["ok"] += 1
                    stats["seen"].add(v)
                return True

            def client():
                while not stop.is_set():
                    try:  # five on one keep-alive connection
                        with connect(srv) as c:
                            for _ in range(5):
                                if not one(c):
                                    break
                    except Exception as e:
                        failed("keep-alive: %s: %s" % (type(e).__name__, e))
                    for _ in range(5):  # five on new connections
                        try:
                            with connect(srv) as c:
                                one(c)
                        except Exception as e:
                            failed("new connection: %s: %s" % (type(e).__name__, e))

            threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
            for t in threads:
                t.start()
            since = len(srv.stderr())
            sent = 0
            t_end = time.monotonic() + 3.0
            while time.monotonic() < t_end:
                time.sleep(0.1)
                sent += 1
                cd.write_conf(confs[sent % 2])
                srv.send_signal(signal.SIGHUP)
                if sent % 5 == 0:
                    srv.send_signal(signal.SIGUSR1)  # reopen the (same) log too
            time.sleep(0.3)
            stop.set()
            for t in threads:
                t.join(harness.TIMEOUT * 2)
            check(not any(t.is_alive() for t in threads), "a client thread hung")
            check(srv.alive(), "htd died during the storm; stderr %r" % srv.stderr()[-1500:])
            err = srv.stderr()[since:]
            reloads = len(re.findall(r"^%shtd: reloaded " % harness.ERRLOG_PREFIX, err, re.M))
            check("reload failed" not in err, "a reload of a valid file failed: %r" % err[:1500])
            check(reloads >= sent // 2, "%d reloads reported for %d SIGHUPs: %r"
                  % (reloads, sent, err[:1500]))
            eq(stats["failed"], 0, "failed requests (of %d ok, %d SIGHUPs, %d reloads; first: %r)"
               % (stats["ok"], sent, reloads, stats["errors"]))
            eq(stats["seen"], {"1", "2"}, "versions answered (%d ok)" % stats["ok"])
            check(stats["ok"] > 100, "only %d requests in 3 s" % stats["ok"])
        # every answered request logged once, across reloads and reopens
        log = (harness.read_file(cd.p("logs/access.log")) or "").splitlines()
        eq(len(log), stats["ok"], "access log lines for %d answered requests (first lines %r)"
           % (stats["ok"], log[:3]))
        check(all(l == "200 /v.txt" for l in log), "unexpected log lines: %r"
              % [l for l in log if l != "200 /v.txt"][:5])
    finally:
        cd.cleanup()


def test_sigusr1_reopens_every_access_log(ctx):
    conf = '''root = "one";
access_log = "logs/access.log";
log_format = "$host $http_user_agent";
vhosts = ( { names = "a.test"; root = "two"; access_log = "logs/a.log"; } );
'''
    cd = ConfDir(FILES)
    cd.mkdir("logs")
    top, vh = cd.p("logs/access.log"), cd.p("logs/a.log")

    def has(path, text):
        return text in (harness.read_file(path) or "")
    try:
        with config_server(conf, confdir=cd) as srv:
            get(srv, "/v.txt", host="top.test", headers=[("User-Agent", "before-top")])
            get(srv, "/v.txt", host="a.test", headers=[("User-Agent", "before-a")])
            wait_until(lambda: has(top, "before-top") and has(vh, "before-a"), 5,
                       "the first lines in both logs (written at least once a second)")
            os.rename(top, top + ".1")
            os.rename(vh, vh + ".1")
            srv.send_signal(signal.SIGUSR1)
            try:  # the reopen makes the files at once, or on the next write
                wait_until(lambda: os.path.exists(top) and os.path.exists(vh), 1.5)
            except harness.TestFailure:
                pass
            get(srv, "/v.txt", host="top.test", headers=[("User-Agent", "after-top")])
            get(srv, "/v.txt", host="a.test", headers=[("User-Agent", "after-a")])
            wait_until(lambda: has(top, "after-top") and has(vh, "after-a"), 5,
                       "the new lines in new files after SIGUSR1 (%s, %s)"
                       % (harness.read_file(top), harness.read_file(vh)))
            check(srv.alive(), "alive after SIGUSR1")
        eq(harness.read_file(top), "top.test after-top\n", "the new top-level log")
        eq(harness.read_file(vh), "a.test after-a\n", "the new vhost log")
        eq(harness.read_file(top + ".1"), "top.test before-top\n", "the renamed top-level log")
        eq(harness.read_file(vh + ".1"), "a.test before-a\n", "the renamed vhost log")
    finally:
        cd.cleanup()
