# SPDX-License-Identifier: BSD-2-Clause
"""Job queues (202 Accepted): POST and PUT under a queue's prefix stored in
SQLite and answered 202 with Location and JSON; the status monitor's JSON
through queued, running and done; the result's body, status and type; retries
then failed with stderr kept; the time limit killing the command's process
group; 503 when full (nothing stored), 413 over the queue's max_body; 404 for
unknown, malformed and other vhosts' ids; cancel (204, and 409 once running or
done); Idempotency-Key (same monitor, no second job; 422 for another body);
Prefer: wait returning as soon as the job ends, and at N seconds when it does
not; 405 with Allow; auth on a queue prefix and its monitors; the access
log's $job_id; the embedder's handler (examples/queue.c); jobs running at a
SIGKILL run again at the next start; 507 on a full disk; config errors with
FILE:LINE; queues per vhost.

The command is one shell script whose behaviour the request body chooses.
Every job appends "ID ATTEMPT" to state/ran.log. Jobs that wait do so on a
file the test creates (state/go), in bounded loops, so nothing here sleeps
longer than the behaviour it shows."""

import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

import harness
from harness import (ConfDir, basic, check, check_error, connect, eq, fail, get, req,
                     start_htd_config, wait_until)

WORK_SH = r'''#!/bin/sh
body=$(cat)
echo "$HTD_JOB_ID $HTD_JOB_ATTEMPT" >> @STATE@/ran.log
case "$body" in
wait*)
    i=0; while [ ! -e @STATE@/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    printf 'Content-Type: text/plain\n\nwaited\n' ;;
fail*)
    echo "first line of the failure" >&2
    echo "something broke in attempt $HTD_JOB_ATTEMPT" >&2
    exit 3 ;;
hang*)
    sleep 30 & echo $! > @STATE@/child.pid
    echo $$ > @STATE@/hang.pid
    wait ;;
status*)
    printf 'Status: 201 Created\nContent-Type: application/json\nX-Ignored: 1\n\n{"made":true}' ;;
nohead*)
    echo "plain words without a header" ;;
silent*)
    ;;
flaky*)
    [ -e @STATE@/go ] || { echo "not yet" >&2; exit 4; }
    printf 'Content-Type: text/plain\n\nworked now\n' ;;
*)
    printf 'Content-Type: text/plain; charset=utf-8\n\n'
    printf 'method=%s uri=%s script=%s path=%s query=%s len=%s type=%s client=%s x=%s queue=%s\n' \
        "$REQUEST_METHOD" "$REQUEST_URI" "$SCRIPT_NAME" "$PATH_INFO" "$QUERY_STRING" \
        "$CONTENT_LENGTH" "$CONTENT_TYPE" "$REMOTE_ADDR" "$HTTP_X_THING" "$HTD_JOB_QUEUE"
    printf 'body=%s\n' "$body" ;;
esac
'''

ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class Queues:
    """A config directory with the work script, a state directory, and an
    htd serving a config whose queues run the script."""

    def __init__(self, queue_settings="", top="", vhosts="", htpasswd=None, start=True):
        self.cd = ConfDir({"www/index.html": b"home\n"})
        self.state = self.cd.mkdir("state")
        self.cd.write("work.sh", WORK_SH.replace("@STATE@", self.state), 0o755)
        self.conf = '''root = "www";
state_db = "jobs.db";
access_log = "access.log";
log_format = "$status $request_method $request_uri $job_id";
%s
queues = ( { prefix = "/q/"; command = "%s"; %s } );
%s
''' % (top, self.cd.p("work.sh"), queue_settings, vhosts)
        self.srv = None
        if start:
            self.start()

    def start(self):
        self.srv = start_htd_config(self.conf, confdir=self.cd)
        return self.srv

    def __enter__(self):
        return self

    def __exit__(self, etype, e, tb):
        try:
            if self.srv is not None and self.srv.alive():
                self.srv.send_signal(signal.SIGTERM)
                rc = self.srv.wait()
                rep = self.srv.sanitizer_report()
                if etype is None:
                    check(rep is None, "sanitizer report:\n%s" % rep)
                    eq(rc, 0, "exit status after SIGTERM (stderr %r)" % self.srv.stderr()[-800:])
        finally:
            if self.srv is not None:
                self.srv.cleanup()
            self.go()  # nothing left waiting
            self.cd.cleanup()
        return False

    def go(self):
        open(os.path.join(self.state, "go"), "w").close()

    def ran(self):
        text = harness.read_file(os.path.join(self.state, "ran.log")) or ""
        return [l.split() for l in text.splitlines() if l]

    def db_count(self, where="1"):
        con = sqlite3.connect(self.cd.p("jobs.db"), timeout=10)
        try:
            return con.execute("SELECT count(*) FROM jobs WHERE " + where).fetchone()[0]
        finally:
            con.close()


def submit(srv, body=b"hello", path="/q/x", method="POST", headers=()):
    r = get(srv, path, method, headers=[("Content-Length", str(len(body)))] + list(headers),
            body=body)
    return r


def accepted(r):
    eq(r.status, 202, "status of a submission (%r)" % r.body[:200])
    harness.check_common(r)
    loc = r.get("Location")
    check(loc and loc.startswith("/.jobs/"), "Location %r" % loc)
    jid = loc[len("/.jobs/"):]
    check(len(jid) == 22 and set(jid) <= ID_CHARS, "job id %r: 22 URL-safe characters" % jid)
    eq(r.get("Content-Type"), "application/json", "Content-Type")
    doc = json.loads(r.body)
    eq(doc["id"], jid, "JSON id")
    eq(doc["monitor"], loc, "JSON monitor")
    return jid


def monitor(srv, jid, headers=()):
    r = get(srv, "/.jobs/" + jid, headers=list(headers))
    eq(r.status, 200, "monitor status (%r)" % r.body[:200])
    eq(r.get("Content-Type"), "application/json", "monitor type")
    return r, json.loads(r.body)


def wait_state(srv, jid, state, timeout=None):
    return wait_until(lambda: monitor(srv, jid)[1]["state"] == state and monitor(srv, jid)[1],
                      timeout=timeout, what="job %s to be %s" % (jid, state), interval=0.02)


def test_queue_202_location_and_json_then_done_with_its_result(ctx):
    with Queues() as q:
        r = submit(q.srv, b"hello there", "/q/thing/sub?a=1&b=2",
                   headers=[("Content-Type", "text/x-note"), ("X-Thing", "yes")])
        jid = accepted(r)
        eq(json.loads(r.body)["queue"], "/q/", "the queue's name")
        doc = wait_state(q.srv, jid, "done")
        eq((doc["id"], doc["queue"], doc["attempts"], doc["exit"]), (jid, "/q/", 1, 0),
           "the monitor of a done job")
        for k in ("created", "started", "finished"):
            check(doc[k] and doc[k].endswith("Z"), "%s is an RFC 3339 time: %r" % (k, doc[k]))
        eq(doc["result"], "/.jobs/%s/result" % jid, "result URL")
        r = get(q.srv, doc["result"])
        eq(r.status, 200, "the result")
        eq(r.get("Content-Type"), "text/plain; charset=utf-8", "the result's type")
        eq(r.body, b"method=POST uri=/q/thing/sub?a=1&b=2 script=/q path=/thing/sub query=a=1&b=2 "
           b"len=11 type=text/x-note client=127.0.0.1 x=yes queue=/q/\nbody=hello there\n",
           "the command saw the request as a CGI script does")
        mon, _ = monitor(q.srv, jid)
        check(not mon.has("Retry-After"), "no Retry-After once finished")
        eq(get(q.srv, doc["result"], "HEAD").body, b"", "HEAD of the result")
        eq(q.ran(), [[jid, "1"]], "run once")


def test_queue_put_is_accepted_too_and_other_methods_get_405_with_allow(ctx):
    with Queues() as q:
        accepted(submit(q.srv, b"x", "/q/doc", "PUT"))
        for m in ("GET", "HEAD", "DELETE", "PATCH"):
            r = get(q.srv, "/q/doc", m)
            check_error(r, 405, m)
            eq(r.get("Allow"), "POST, PUT", "Allow on a queue")
        jid = accepted(submit(q.srv, b"x"))
        r = submit(q.srv, b"x", "/.jobs/" + jid)
        check_error(r, 405)
        eq(r.get("Allow"), "GET, HEAD, DELETE", "Allow on a monitor")
        r = get(q.srv, "/.jobs/%s/result" % jid, "DELETE")
        check_error(r, 405)
        eq(r.get("Allow"), "GET, HEAD", "Allow on a result")
        eq(get(q.srv, "/index.html").body, b"home\n", "other paths are files")


def test_queue_states_queued_running_done_with_retry_after_until_finished(ctx):
    with Queues("workers = 1;") as q:
        a = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, a, "running")
        b = accepted(submit(q.srv, b"plain"))
        r, doc = monitor(q.srv, b)
        eq((doc["state"], doc["attempts"], doc["started"], doc["result"]), ("queued", 0, None, None),
           "the second job waits for the only processor")
        eq(r.get("Retry-After"), "1", "Retry-After while queued")
        r, doc = monitor(q.srv, a)
        eq(r.get("Retry-After"), "1", "Retry-After while running")
        q.go()
        wait_state(q.srv, a, "done")
        wait_state(q.srv, b, "done")
        eq(get(q.srv, "/.jobs/%s/result" % a).body, b"waited\n", "the first one's result")


def test_queue_result_status_and_type_come_from_the_commands_cgi_header(ctx):
    with Queues() as q:
        jid = accepted(submit(q.srv, b"status"))
        wait_state(q.srv, jid, "done")
        r = get(q.srv, "/.jobs/%s/result" % jid)
        eq((r.status, r.get("Content-Type"), r.body), (201, "application/json", b'{"made":true}'),
           "Status and Content-Type from the command")
        jid = accepted(submit(q.srv, b"silent"))
        wait_state(q.srv, jid, "done")
        eq(get(q.srv, "/.jobs/%s/result" % jid).status, 204, "no output: 204")


def test_queue_retries_with_backoff_then_failed_keeping_stderr(ctx):
    with Queues("attempts = 3; retry_delay = 0.1;") as q:
        t0 = time.monotonic()
        jid = accepted(submit(q.srv, b"fail"))
        doc = wait_state(q.srv, jid, "failed")
        took = time.monotonic() - t0
        eq((doc["attempts"], doc["exit"], doc["result"]), (3, 3, None), "three attempts, exit 3")
        eq(doc["error"], "first line of the failure\nsomething broke in attempt 3\n",
           "stderr of the last attempt")
        check(0.3 <= took < 1.5, "backoff 0.1 s then 0.2 s: took %.2f s" % took)
        eq([a for i, a in q.ran()], ["1", "2", "3"], "attempts 1, 2, 3")
        check_error(get(q.srv, "/.jobs/%s/result" % jid), 404)
        jid = accepted(submit(q.srv, b"nohead"))
        doc = wait_state(q.srv, jid, "failed")
        check("no CGI header" in doc["error"], "output without a header: %r" % doc["error"])


def test_queue_time_limit_kills_the_commands_process_group(ctx):
    with Queues("attempts = 1; timeout = 0.5;") as q:
        jid = accepted(submit(q.srv, b"hang"))
        child = wait_until(lambda: harness.read_file(os.path.join(q.state, "child.pid")),
                           what="the command's child")
        doc = wait_state(q.srv, jid, "failed")
        check("time limit of 0.5 s" in doc["error"], "the time limit in the error: %r" % doc["error"])
        wait_until(lambda: harness.proc_dead(int(child)), what="the command's child to be killed")
        sh = int(harness.read_file(os.path.join(q.state, "hang.pid")))
        check(harness.proc_dead(sh), "the command itself is gone")


def test_queue_503_with_retry_after_when_full_and_nothing_stored(ctx):
    with Queues("workers = 1; max_queued = 2;") as q:
        a = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, a, "running")
        accepted(submit(q.srv, b"one"))
        accepted(submit(q.srv, b"two"))
        r = submit(q.srv, b"three")
        check_error(r, 503)
        eq(r.get("Retry-After"), "5", "Retry-After")
        eq(q.db_count(), 3, "jobs stored")
        q.go()
        wait_until(lambda: q.db_count("state = 2") == 3, what="all three done")
        accepted(submit(q.srv, b"four"))


def test_queue_413_over_its_max_body_by_length_and_by_chunks(ctx):
    with Queues('max_body = "1K";') as q:
        accepted(submit(q.srv, b"a" * 1024))
        check_error(submit(q.srv, b"a" * 1025), 413)
        c = connect(q.srv)
        c.send(req("/q/x", "POST", [("Transfer-Encoding", "chunked")]) +
               harness.chunk_encode(b"b" * 2000, [500, 500, 500, 500]))
        check_error(c.read_response(), 413)
        c.close()
        eq(q.db_count(), 1, "only the first stored")


def test_queue_404_for_unknown_malformed_and_other_vhosts_ids(ctx):
    vh = '''vhosts = ( { names = ["other.test"]; root = "www";
  queues = ( { prefix = "/oq/"; command = "/bin/true"; } ); } );'''
    with Queues(vhosts=vh) as q:
        jid = accepted(submit(q.srv, b"x"))
        other = accepted(get(q.srv, "/oq/y", "POST", headers=[("Content-Length", "1")], body=b"y",
                             host="other.test"))
        for path in ("/.jobs/AAAAAAAAAAAAAAAAAAAAAA", "/.jobs/short", "/.jobs/%s/x" % jid,
                     "/.jobs/" + jid[:-1] + "*", "/.jobs/"):
            check_error(get(q.srv, path), 404)
        check_error(get(q.srv, "/.jobs/" + other), 404)  # the top-level server's monitors
        r = get(q.srv, "/.jobs/" + other, host="other.test")
        eq(r.status, 200, "its own vhost's monitor")
        check_error(get(q.srv, "/.jobs/" + jid, host="other.test"), 404)
        check_error(get(q.srv, "/.jobs/AAAAAAAAAAAAAAAAAAAAAA", "DELETE"), 404)
        # the vhost's queue is its own: elsewhere its path is a file's
        check_error(get(q.srv, "/oq/y", "POST", headers=[("Content-Length", "1")], body=b"y"), 405)


def test_queue_cancel_a_queued_job_204_and_409_once_running_or_done(ctx):
    with Queues("workers = 1;") as q:
        a = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, a, "running")
        b = accepted(submit(q.srv, b"plain"))
        r = get(q.srv, "/.jobs/" + b, "DELETE")
        eq((r.status, r.body), (204, b""), "cancel a queued job")
        _, doc = monitor(q.srv, b)
        eq(doc["state"], "cancelled", "its state")
        r = get(q.srv, "/.jobs/" + b, "DELETE")
        check_error(r, 409)
        r = get(q.srv, "/.jobs/" + a, "DELETE")
        check_error(r, 409)
        check(b"running" in r.body, "409 says why: %r" % r.body)
        q.go()
        wait_state(q.srv, a, "done")
        check_error(get(q.srv, "/.jobs/" + a, "DELETE"), 409)
        time.sleep(0.3)
        eq([i for i, _ in q.ran()], [a], "the cancelled job never ran")


def test_queue_idempotency_key_gives_the_same_monitor_and_422_for_another_body(ctx):
    with Queues() as q:
        k = ("Idempotency-Key", '"8e03978e-40d5-43e8-bc93-6894a57f9324"')
        a = accepted(submit(q.srv, b"same body", headers=[k]))
        b = accepted(submit(q.srv, b"same body", headers=[k]))
        eq(b, a, "a repeated key: the same job")
        r = submit(q.srv, b"another body", headers=[k])
        check_error(r, 422)
        c = accepted(submit(q.srv, b"same body", headers=[("Idempotency-Key", "other-key")]))
        check(c != a, "another key, another job")
        check_error(submit(q.srv, b"x", headers=[("Idempotency-Key", '"' + "k" * 300 + '"')]), 400)
        wait_state(q.srv, a, "done")
        eq(accepted(submit(q.srv, b"same body", headers=[k])), a, "even once done")
        eq(q.db_count(), 2, "two jobs stored")


def test_queue_prefer_wait_returns_as_soon_as_the_job_ends_or_at_n_seconds(ctx):
    with Queues("workers = 1;") as q:
        jid = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, jid, "running")
        t0 = time.monotonic()
        r, doc = monitor(q.srv, jid, [("Prefer", "respond-async, wait=1")])
        took = time.monotonic() - t0
        eq(doc["state"], "running", "still running after the wait")
        check(0.9 <= took < 2.5, "answered at about 1 s: %.2f s" % took)
        out = {}

        def poll():
            t = time.monotonic()
            out["doc"] = monitor(q.srv, jid, [("Prefer", "wait=8")])[1]
            out["at"] = time.monotonic() - t
        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.5)
        q.go()
        th.join(15)
        eq(out["doc"]["state"], "done", "the long-poll's answer")
        check(out["at"] < 2.5, "answered when the job ended, not at 8 s: %.2f s" % out["at"])
        t0 = time.monotonic()
        monitor(q.srv, jid, [("Prefer", "wait=5")])
        check(time.monotonic() - t0 < 0.5, "a finished job answers at once")


def test_queue_many_long_polls_on_one_job_all_answered_when_it_ends(ctx):
    with Queues("workers = 1;") as q:
        jid = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, jid, "running")
        conns = []
        for _ in range(50):
            c = connect(q.srv)
            c.send(req("/.jobs/" + jid, headers=[("Prefer", "wait=9")]))
            conns.append(c)
        time.sleep(0.3)
        t0 = time.monotonic()
        q.go()
        for c in conns:
            r = c.read_response()
            eq(json.loads(r.body)["state"], "done", "each waiter's answer")
            c.close()
        check(time.monotonic() - t0 < 3, "all answered when the job ended")
        # a waiter that leaves: htd goes on
        j2 = accepted(submit(q.srv, b"wait-again"))
        c = connect(q.srv)
        c.send(req("/.jobs/" + j2, headers=[("Prefer", "wait=9")]))
        time.sleep(0.2)
        c.close()
        wait_state(q.srv, j2, "done")


def test_queue_auth_applies_to_the_prefix_and_to_the_monitors(ctx):
    q = Queues(top='rules = ( { prefix = "/q/"; auth = { realm = "jobs"; htpasswd = "users"; }; },\n'
               '          { prefix = "/.jobs/"; auth = { realm = "jobs"; htpasswd = "users"; }; } );',
               start=False)
    harness.tool(["htpasswd", "-bcB", q.cd.p("users"), "ann", "secret"],
                 "apt-get install apache2-utils")
    q.start()
    with q:
        r = submit(q.srv, b"x")
        check_error(r, 401)
        eq(r.get("WWW-Authenticate"), 'Basic realm="jobs", charset="UTF-8"', "the challenge")
        check_error(submit(q.srv, b"x", headers=[basic("ann", "wrong")]), 401)
        jid = accepted(submit(q.srv, b"x", headers=[basic("ann", "secret")]))
        check_error(get(q.srv, "/.jobs/" + jid), 401)
        r = get(q.srv, "/.jobs/" + jid, headers=[basic("ann", "secret")])
        eq(r.status, 200, "the monitor with the password")
        eq(q.db_count(), 1, "the refused submissions stored nothing")


def test_queue_access_log_records_the_job_id(ctx):
    with Queues() as q:
        jid = accepted(submit(q.srv, b"x", "/q/logged"))
        wait_state(q.srv, jid, "done")
        get(q.srv, "/index.html")
        # Each thread writes its own lines: wait for all three, whichever
        # thread answered each, before saying which is missing.
        want = ["202 POST /q/logged %s" % jid, "200 GET /.jobs/%s %s" % (jid, jid), "200 GET /index.html -"]
        deadline = time.monotonic() + harness.TIMEOUT
        while True:
            lines = (harness.read_file(q.cd.p("access.log")) or "").splitlines()
            if all(w in lines for w in want) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        check("202 POST /q/logged %s" % jid in lines, "the 202's line has the id: %r" % lines)
        check("200 GET /.jobs/%s %s" % (jid, jid) in lines, "the monitor's line: %r" % lines)
        check("200 GET /index.html -" in lines, "other lines: '-': %r" % lines)


def test_queue_the_programs_handler_runs_the_jobs_example(ctx):
    d = tempfile.mkdtemp(prefix="htd-queue-example-")
    try:
        srv = harness.start_example("queue", d, os.path.join(d, "jobs.db"))
        try:
            r = submit(srv, b"three little words", "/resize/a",
                       headers=[("Content-Type", "text/plain")])
            jid = accepted(r)
            doc = wait_state(srv, jid, "done")
            r = get(srv, doc["result"])
            eq((r.status, r.get("Content-Type")), (200, "application/json"), "the handler's result")
            eq(json.loads(r.body), {"job": jid, "words": 3, "attempt": 1, "type": "text/plain"},
               "what the handler saw")
            jid = accepted(submit(srv, b"fail", "/resize/b"))
            doc = wait_state(srv, jid, "failed", timeout=15)
            eq((doc["attempts"], doc["error"]), (3, "the handler's result was 422"),
               "a non-2xx result is a failed attempt")
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        subprocess.run(["rm", "-rf", d])


def test_queue_a_job_running_at_sigkill_runs_again_at_the_next_start(ctx):
    with Queues("workers = 1;") as q:
        a = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, a, "running")
        b = accepted(submit(q.srv, b"plain"))
        q.srv.kill()
        q.srv.cleanup()
        q.srv = None
        q.go()
        q.start()
        wait_until(lambda: "queued again" in q.srv.stderr(), what="the note on stderr")
        doc = wait_state(q.srv, a, "done")
        eq(doc["attempts"], 2, "the interrupted job's attempts")
        wait_state(q.srv, b, "done")
        eq([x for x in q.ran() if x[0] == a], [[a, "1"], [a, "2"]], "run twice, at least once")
        eq([x for x in q.ran() if x[0] == b], [[b, "1"]], "the other once")


def test_queue_507_when_the_disk_is_full(ctx):
    d = tempfile.mkdtemp(prefix="htd-queue-full-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", d],
                       capture_output=True)
    if p.returncode != 0:
        os.rmdir(d)
        raise harness.Skip("cannot mount a small tmpfs here: %s" % p.stderr.decode().strip())
    try:
        q = Queues(top='state_db = "%s/jobs.db";' % d, start=False)
        q.conf = q.conf.replace('state_db = "jobs.db";\n', "", 1)
        q.start()
        with q:
            big = os.urandom(60000)
            codes = []
            for _ in range(20):
                r = submit(q.srv, big, "/q/big")
                codes.append(r.status)
                if r.status != 202:
                    break
            eq(codes[-1], 507, "the answer once the disk is full (after %r)" % codes[:-1])
            check_error(r, 507)
            n = len(codes) - 1
            con = sqlite3.connect(os.path.join(d, "jobs.db"), timeout=10)
            stored = con.execute("SELECT count(*) FROM jobs").fetchone()[0]
            con.close()
            eq(stored, n, "every 202 stored, the 507 not")
    finally:
        subprocess.run(["umount", "-l", d])
        os.rmdir(d)


def test_queue_config_errors_name_their_line(ctx):
    cd = ConfDir()
    try:
        for text, want in (
            ('queues = ( { prefix = "/q/"; comand = "x"; } );', "htd.conf:1: unknown setting 'comand' in a queue"),
            ('queues = ( { command = "x"; } );', "htd.conf:1: a queue needs a prefix"),
            ('queues = ( { prefix = "q"; command = "x"; } );', "htd.conf:1: bad queue prefix 'q'"),
            ('queues = ( { prefix = "/q/"; workers = 0; } );', "htd.conf:1: workers must be a whole number"),
            ('queues = ( { prefix = "/q/"; },\n { prefix = "/q/./"; } );', "htd.conf:2: two queues at '/q/'"),
        ):
            path = cd.write_conf(text + "\n")
            p = harness.run_htd(["--check-config", path])
            eq(p.returncode, 2, "exit status for %r" % text)
            err = p.stderr.decode()
            check(want in err, "%r: want %r in %r" % (text, want, err))
    finally:
        cd.cleanup()


CRASH_SH = r'''#!/bin/sh
cat > /dev/null
sleep 0.05
echo "$HTD_JOB_ID" >> @STATE@/processed.log
'''


def test_queue_crash_500_jobs_sigkill_while_processing_none_lost_none_finished_run_again(ctx):
    """500 jobs accepted from 8 concurrent clients; htd SIGKILLed while they
    are being processed; restarted.
    Every job that got a 202 is processed at least once, and no job that was
    finished before the kill runs again."""
    q = Queues("workers = 4;", start=False)
    q.cd.write("crash.sh", CRASH_SH.replace("@STATE@", q.state), 0o755)
    q.conf = q.conf.replace(q.cd.p("work.sh"), q.cd.p("crash.sh"))
    q.start()
    log = os.path.join(q.state, "processed.log")

    def processed():
        return (harness.read_file(log) or "").split()

    with q:
        ids, lock = [], threading.Lock()
        addr = q.srv.addr

        def client(n):
            for i in range(n):
                try:
                    c = harness.connect_addr(addr)
                    c.send(req("/q/job", "POST", [("Content-Length", "8")], body=b"%08d" % i))
                    r = c.read_response()
                    c.close()
                except (OSError, harness.TestFailure):
                    return  # htd was killed
                if r.status == 202:
                    with lock:
                        ids.append(r.get("Location")[len("/.jobs/"):])
        threads = [threading.Thread(target=client, args=(63 if k else 59,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        eq(len(ids), 500, "jobs accepted")
        wait_until(lambda: len(processed()) >= 100, timeout=30, what="100 jobs processed")
        q.srv.kill()
        q.srv.cleanup()
        q.srv = None
        before = processed()
        con = sqlite3.connect(q.cd.p("jobs.db"), timeout=10)
        rows = dict(con.execute("SELECT id, state FROM jobs").fetchall())
        con.close()
        lost = [i for i in ids if i not in rows]
        eq(lost, [], "accepted jobs missing from the database after SIGKILL")
        done_before = {i for i, st in rows.items() if st == 2}
        running = [i for i, st in rows.items() if st == 1]
        check(len(done_before) < len(ids), "killed while jobs were still to be processed: %d of %d done"
              % (len(done_before), len(ids)))
        q.start()
        wait_until(lambda: q.db_count("state = 2") == len(rows), timeout=60,
                   what="every stored job done after the restart")
        after = processed()
        missing = set(ids) - set(after)
        eq(missing, set(), "accepted jobs never processed")
        again = [i for i in after[len(before):] if i in done_before]
        eq(again, [], "jobs finished before the kill that ran again")
        eq(len(rows), len(set(rows)), "no duplicate rows")
        ctx_note = "%d accepted, %d done at the kill, %d running then" % (
            len(ids), len(done_before), len(running))
        check("queued again" in q.srv.stderr() or not running, ctx_note)


def jobs_cmd(q, *args):
    p = harness.run_htd(["jobs", "-c", q.cd.conf] + list(args))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_queue_htd_jobs_on_the_running_servers_database(ctx):
    with Queues("attempts = 1; workers = 1;") as q:
        f = accepted(submit(q.srv, b"flaky"))
        doc = wait_state(q.srv, f, "failed")
        eq(doc["error"], "not yet\n", "the first run failed")
        rc, out, err = jobs_cmd(q, "list", "--state", "failed")
        eq(rc, 0, "htd jobs list (%r)" % err)
        check(f in out and "failed" in out, "the failed job listed: %r" % out)
        q.go()
        rc, out, err = jobs_cmd(q, "retry", f)
        eq(rc, 0, "htd jobs retry (%r)" % err)
        doc = wait_state(q.srv, f, "done", timeout=5)
        eq(doc["attempts"], 1, "its attempts counted from zero again")
        eq(get(q.srv, doc["result"]).body, b"worked now\n", "the retried run's result")
        rm = os.path.join(q.state, "go")
        os.unlink(rm)
        a = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, a, "running")
        b = accepted(submit(q.srv, b"plain"))
        rc, out, err = jobs_cmd(q, "cancel", a)
        eq(rc, 1, "cancel of a running job (%r)" % err)
        rc, out, err = jobs_cmd(q, "cancel", b)
        eq(rc, 0, "cancel of a queued job (%r)" % err)
        eq(monitor(q.srv, b)[1]["state"], "cancelled", "the server sees it")
        rc, out, err = jobs_cmd(q, "show", f)
        eq(rc, 0, "show")
        check(out.startswith("{") and json.loads(out.splitlines()[0])["id"] == f, "show: %r" % out)
        q.go()
        wait_state(q.srv, a, "done")
        rc, out, err = jobs_cmd(q, "purge", "--state", "done")
        eq((rc, out.strip()), (0, "purged 2 jobs"), "purge (%r)" % err)
        check_error(get(q.srv, "/.jobs/" + f), 404)


def test_queue_finished_jobs_expire_and_their_monitors_are_404(ctx):
    with Queues("expire = 1;") as q:
        k = ("Idempotency-Key", '"k1"')
        jid = accepted(submit(q.srv, b"x", headers=[k]))
        wait_state(q.srv, jid, "done")
        wait_until(lambda: get(q.srv, "/.jobs/" + jid).status == 404, timeout=5,
                   what="the monitor to expire")
        check_error(get(q.srv, "/.jobs/%s/result" % jid), 404)
        wait_until(lambda: q.db_count() == 0, timeout=5, what="the job removed")
        other = accepted(submit(q.srv, b"x", headers=[k]))
        check(other != jid, "its key expired with it: a new job")


def test_queue_a_graceful_stop_answers_long_polls_at_once(ctx):
    with Queues("workers = 1;") as q:
        jid = accepted(submit(q.srv, b"wait"))
        wait_state(q.srv, jid, "running")
        c = connect(q.srv)
        c.send(req("/.jobs/" + jid, headers=[("Prefer", "wait=25")]))
        time.sleep(0.3)
        t0 = time.monotonic()
        q.srv.send_signal(signal.SIGTERM)
        r = c.read_response()
        eq((r.status, json.loads(r.body)["state"]), (200, "running"), "the waiter's answer")
        eq(q.srv.wait(), 0, "exit status")
        check(time.monotonic() - t0 < 3, "stopped without waiting out the poll")
        c.close()


def test_queue_submissions_on_one_keep_alive_connection_pipelined_and_not(ctx):
    # The body read before the request waited for its commit is not read
    # again as body when it resumes: the next bytes are the next request.
    with Queues() as q:
        c = connect(q.srv)
        ids = []
        for body in (b"x" * 5, b"y" * 1024, b""):
            c.send(req("/q/a", "POST", [("Content-Length", str(len(body)))], body=body))
            ids.append(accepted(c.read_response()))
        chunked = req("/q/b", "POST", [("Transfer-Encoding", "chunked")]) + \
            harness.chunk_encode(b"z" * 3000, [1000, 2000])
        c.send(req("/q/c", "POST", [("Content-Length", "3")], body=b"abc") + chunked +
               req("/index.html"))
        ids.append(accepted(c.read_response()))
        ids.append(accepted(c.read_response()))
        r = c.read_response()
        eq((r.status, r.body), (200, b"home\n"), "a GET after them on the same connection")
        c.close()
        eq(len(set(ids)), 5, "five jobs")
        eq(q.db_count(), 5, "five stored")
