# SPDX-License-Identifier: BSD-2-Clause
"""`htd jobs`: the state database from the command line. Each test fills a
database of its own with Python's sqlite3 (the schema is queue_sqlite.c's)
with jobs in every state over two queues, then: list (all, --queue, --state,
byte-exact columns; --json as JSON lines), show (the monitor's JSON, the
request, the result, stderr; an unknown id is exit 2), cancel (a queued job;
a running one is exit 1 and unchanged), retry (a failed job queued with
attempts from zero; a done one is exit 1), purge (the count, the rows gone),
a missing database (exit 2, named, not created), -c CONFIG (state_db
relative to the config's directory), a writer holding the lock (waited for),
usage errors and --help."""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

import harness
from harness import ConfDir, check, eq

QUEUED, RUNNING, DONE, FAILED, CANCELLED = range(5)
T0 = 1764530107123  # 2025-11-30T19:15:07.123Z
MIN = 60000
WEEK = 7 * 86400 * 1000

# Job ids are base64url, so one may start with '-': RUNNING_ID does.
Q1 = "queued0000000000000000"
RUNNING_ID = "-running00000000000000"
DONE_ID = "done000000000000000000"
FAIL_ID = "failed0000000000000000"
CANC = "cancelled0000000000000"
Q2 = "queued1111111111111111"

HEADERS = b"Content-Type: text/plain\r\nX-Trace: abc\r\n"

# id, queue, state, attempts, created, started, finished, expires, method,
# target, body, exit, result_status, result_type, result, err
JOBS = [
    (Q1, "/mail/", QUEUED, 0, T0, None, None, None, "POST", "/mail/send?to=ann", b"hello",
     -1, None, None, None, None),
    (RUNNING_ID, "/mail/", RUNNING, 1, T0 + MIN, T0 + 2 * MIN, None, None, "POST",
     "/mail/send", b"", -1, None, None, None, None),
    (DONE_ID, "/img/", DONE, 1, T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN, T0 + WEEK, "PUT",
     "/img/a.png", b"\x89PNG", 0, 200, "text/plain", b"ok\n", None),
    (FAIL_ID, "/img/", FAILED, 3, T0 + 3 * MIN, T0 + 4 * MIN, T0 + 5 * MIN, T0 + WEEK, "POST",
     "/img/resize", b"x" * 1000, 1, None, None, None, "line one\nno \x1b[31mcolour\n"),
    (CANC, "/mail/", CANCELLED, 0, T0 + 4 * MIN, None, T0 + 5 * MIN, T0 + WEEK, "POST",
     "/mail/send", b"bye", -1, None, None, None, None),
    (Q2, "/img/", QUEUED, 0, T0 + 5 * MIN, None, None, None, "POST", "/img/resize", b"y",
     -1, None, None, None, None),
]

HEADER = ("ID                      STATE      ATTEMPTS  CREATED               QUEUE   METHOD  "
          "TARGET\n")
LINES = {
    Q1: "queued0000000000000000  queued            0  2025-11-30T19:15:07Z  /mail/  POST    "
        "/mail/send?to=ann\n",
    RUNNING_ID: "-running00000000000000  running           1  2025-11-30T19:16:07Z  /mail/  "
                "POST    /mail/send\n",
    DONE_ID: "done000000000000000000  done              1  2025-11-30T19:17:07Z  /img/   PUT     "
             "/img/a.png\n",
    FAIL_ID: "failed0000000000000000  failed            3  2025-11-30T19:18:07Z  /img/   POST    "
             "/img/resize\n",
    CANC: "cancelled0000000000000  cancelled         0  2025-11-30T19:19:07Z  /mail/  POST    "
          "/mail/send\n",
    Q2: "queued1111111111111111  queued            0  2025-11-30T19:20:07Z  /img/   POST    "
        "/img/resize\n",
}
ORDER = [Q1, RUNNING_ID, DONE_ID, FAIL_ID, CANC, Q2]


def make_db(path):
    """A state database at path, as htd makes it, holding JOBS."""
    harness.make_state_db(path)
    db = sqlite3.connect(path)
    try:
        for (jid, queue, state, attempts, created, started, finished, expires, method, target,
             body, exit_code, rstatus, rtype, result, err) in JOBS:
            db.execute(
                "INSERT INTO jobs (id, queue, state, attempts, created, started, finished, "
                "not_before, expires, method, target, client, headers, body, exit, "
                "result_status, result_type, result, err) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '127.0.0.1', ?, ?, ?, ?, ?, ?, ?)",
                (jid, queue, state, attempts, created, started, finished, created, expires,
                 method, target, HEADERS, body, exit_code, rstatus, rtype, result, err))
        db.commit()
    finally:
        db.close()


class JobsDir(harness.StateDir):
    """A temporary directory holding jobs.db (make_db)."""

    def __init__(self):
        super().__init__("jobs.db", make_db)

    def jobs(self, *args, cwd=None):
        """htd jobs --db DB ARGS."""
        return jobs(["--db", self.db] + list(args), cwd=cwd)

    def row(self, jid):
        db = sqlite3.connect(self.db)
        try:
            db.row_factory = sqlite3.Row
            r = db.execute("SELECT * FROM jobs WHERE id = ?", (jid,)).fetchone()
            return dict(r) if r else None
        finally:
            db.close()

    def ids(self):
        db = sqlite3.connect(self.db)
        try:
            return sorted(r[0] for r in db.execute("SELECT id FROM jobs"))
        finally:
            db.close()


def jobs(args, cwd=None):
    """Runs `htd jobs ARGS`; the CompletedProcess, stdout and stderr as text."""
    return harness.state_tool("jobs", args, cwd=cwd)


def ok(p, what):
    eq(p.returncode, 0, "exit status of %s (stderr %r)" % (what, p.err))
    eq(p.err, "", "stderr of " + what)


def refused(p, code, err, what):
    eq(p.returncode, code, "exit status of " + what)
    eq(p.err, "htd jobs: " + err + "\n", "stderr of " + what)
    eq(p.out, "", "stdout of " + what)


def table(*ids):
    return HEADER + "".join(LINES[i] for i in ids)


# ---- list ----

def test_list_all_oldest_first_in_columns(ctx):
    with JobsDir() as d:
        p = d.jobs("list")
        ok(p, "list")
        eq(p.out, table(*ORDER), "list")


def test_list_by_queue_and_state(ctx):
    with JobsDir() as d:
        p = d.jobs("list", "--queue", "/img/")
        ok(p, "list --queue /img/")
        # QUEUE as wide as its widest: "QUEUE" here.
        eq(p.out,
           "ID                      STATE      ATTEMPTS  CREATED               QUEUE  METHOD  "
           "TARGET\n"
           "done000000000000000000  done              1  2025-11-30T19:17:07Z  /img/  PUT     "
           "/img/a.png\n"
           "failed0000000000000000  failed            3  2025-11-30T19:18:07Z  /img/  POST    "
           "/img/resize\n"
           "queued1111111111111111  queued            0  2025-11-30T19:20:07Z  /img/  POST    "
           "/img/resize\n", "list --queue /img/")
        p = d.jobs("list", "--state", "queued")
        ok(p, "list --state queued")
        eq(p.out, table(Q1, Q2), "list --state queued")
        p = d.jobs("list", "--queue=/mail/", "--state=cancelled")
        ok(p, "list --queue=/mail/ --state=cancelled")
        eq(p.out, table(CANC), "list --queue=/mail/ --state=cancelled")
        p = d.jobs("list", "--queue", "/none/")
        ok(p, "list --queue /none/")
        eq(p.out, "ID                      STATE      ATTEMPTS  CREATED               QUEUE  METHOD  "
           "TARGET\n", "list of an empty queue: the header alone")


def test_list_json_lines(ctx):
    with JobsDir() as d:
        p = d.jobs("list", "--json")
        ok(p, "list --json")
        check(p.out.endswith("\n"), "list --json does not end in a newline: %r" % p.out[-100:])
        objs = [json.loads(l) for l in p.out.split("\n")[:-1]]
        eq([o["id"] for o in objs], ORDER, "ids of list --json")
        keys = ["id", "queue", "state", "attempts", "created", "started", "finished", "exit",
                "monitor", "result"]
        for o, job in zip(objs, JOBS):
            eq(sorted(o), sorted(keys + (["error"] if job[15] else [])), "keys of %s" % o["id"])
            eq(o["queue"], job[1], "queue of %s" % o["id"])
            eq(o["state"], ["queued", "running", "done", "failed", "cancelled"][job[2]],
               "state of %s" % o["id"])
            eq(o["attempts"], job[3], "attempts of %s" % o["id"])
            eq(o["monitor"], "/.jobs/" + o["id"], "monitor of %s" % o["id"])
        eq(objs[0]["created"], "2025-11-30T19:15:07.123Z", "created of the first job")
        eq(objs[0]["started"], None, "started of a queued job")
        eq(objs[2]["result"], "/.jobs/%s/result" % DONE_ID, "result of the done job")
        eq(objs[2]["exit"], 0, "exit of the done job")
        eq(objs[3]["error"], "line one\nno \x1b[31mcolour\n", "error of the failed job")
        p = d.jobs("list", "--json", "--state", "failed")
        ok(p, "list --json --state failed")
        eq([json.loads(l)["id"] for l in p.out.splitlines()], [FAIL_ID], "failed jobs")


# ---- show ----

def test_show_done_job(ctx):
    with JobsDir() as d:
        p = d.jobs("show", DONE_ID)
        ok(p, "show")
        first, rest = p.out.split("\n", 1)
        o = json.loads(first)
        eq(o["id"], DONE_ID, "id")
        eq(o["state"], "done", "state")
        eq(o["finished"], "2025-11-30T19:19:07.123Z", "finished")
        eq(rest,
           "request: PUT /img/a.png from 127.0.0.1\n"
           "  Content-Type: text/plain\n"
           "  X-Trace: abc\n"
           "body: 4 bytes\n"
           "result: 200 text/plain, 3 bytes\n", "show after the JSON")


def test_show_failed_job_with_stderr_escaped(ctx):
    with JobsDir() as d:
        p = d.jobs("show", FAIL_ID)
        ok(p, "show")
        first, rest = p.out.split("\n", 1)
        eq(json.loads(first)["error"], "line one\nno \x1b[31mcolour\n", "error in the JSON")
        eq(rest,
           "request: POST /img/resize from 127.0.0.1\n"
           "  Content-Type: text/plain\n"
           "  X-Trace: abc\n"
           "body: 1000 bytes\n"
           "stderr:\n"
           "  line one\n"
           "  no \\x1b[31mcolour\n", "show after the JSON")


def test_show_unknown_job_exit_2(ctx):
    with JobsDir() as d:
        refused(d.jobs("show", "nosuchjob"), 2, "no job nosuchjob", "show of an unknown id")


# ---- cancel, retry ----

def test_cancel_queued_job(ctx):
    with JobsDir() as d:
        before = time.time() * 1000
        p = d.jobs("cancel", Q1)
        ok(p, "cancel")
        eq(p.out, "job %s cancelled\n" % Q1, "stdout of cancel")
        r = d.row(Q1)
        eq(r["state"], CANCELLED, "state after cancel")
        check(r["finished"] >= before - 1000, "finished not set: %r" % r)
        check(r["expires"] > r["finished"], "expires not after finished: %r" % r)
        refused(d.jobs("cancel", Q1), 1,
                "job %s is cancelled; only a queued job can be cancelled" % Q1, "cancel again")


def test_cancel_running_job_exit_1_unchanged(ctx):
    with JobsDir() as d:
        before = d.row(RUNNING_ID)
        # The id starts with '-': taken as an id, not an option.
        refused(d.jobs("cancel", RUNNING_ID), 1,
                "job %s is running; only a queued job can be cancelled" % RUNNING_ID,
                "cancel of a running job")
        eq(d.row(RUNNING_ID), before, "the running job after a refused cancel")
        refused(d.jobs("cancel", "nosuchjob"), 2, "no job nosuchjob", "cancel of an unknown id")


def test_retry_failed_job(ctx):
    with JobsDir() as d:
        p = d.jobs("retry", FAIL_ID)
        ok(p, "retry")
        eq(p.out, "job %s queued again\n" % FAIL_ID, "stdout of retry")
        r = d.row(FAIL_ID)
        eq((r["state"], r["attempts"], r["finished"], r["expires"]), (QUEUED, 0, None, None),
           "state, attempts, finished, expires after retry")
        p = d.jobs("list", "--state", "queued")
        eq(p.out, HEADER + LINES[Q1] +
           "failed0000000000000000  queued            0  2025-11-30T19:18:07Z  /img/   POST    "
           "/img/resize\n" + LINES[Q2], "queued jobs after retry")


def test_retry_cancelled_job(ctx):
    with JobsDir() as d:
        ok(d.jobs("retry", CANC), "retry of a cancelled job")
        eq(d.row(CANC)["state"], QUEUED, "state after retry")


def test_retry_done_job_exit_1(ctx):
    with JobsDir() as d:
        before = d.row(DONE_ID)
        refused(d.jobs("retry", DONE_ID), 1,
                "job %s is done; only a failed or cancelled job can be retried" % DONE_ID,
                "retry of a done job")
        eq(d.row(DONE_ID), before, "the done job after a refused retry")
        refused(d.jobs("retry", "nosuchjob"), 2, "no job nosuchjob", "retry of an unknown id")


# ---- purge ----

def test_purge_done(ctx):
    with JobsDir() as d:
        p = d.jobs("purge", "--state", "done")
        ok(p, "purge --state done")
        eq(p.out, "purged 1 job\n", "stdout of purge")
        eq(d.row(DONE_ID), None, "the done job after purge")
        eq(len(d.ids()), 5, "jobs left")
        p = d.jobs("purge", "--queue", "/mail/")
        ok(p, "purge --queue /mail/")
        eq(p.out, "purged 1 job\n", "stdout of purge --queue /mail/")
        eq(d.ids(), sorted([Q1, RUNNING_ID, FAIL_ID, Q2]), "jobs left")
        p = d.jobs("purge")
        eq(p.out, "purged 1 job\n", "stdout of purge")
        p = d.jobs("purge")
        eq(p.out, "purged 0 jobs\n", "stdout of purge with nothing finished")
        eq(d.ids(), sorted([Q1, RUNNING_ID, Q2]), "unfinished jobs are kept")


def test_purge_all_finished(ctx):
    with JobsDir() as d:
        p = d.jobs("purge")
        ok(p, "purge")
        eq(p.out, "purged 3 jobs\n", "stdout of purge")
        refused(d.jobs("purge", "--state", "running"), 2,
                "purge removes finished jobs only: --state done, failed or cancelled",
                "purge --state running")


# ---- the database ----

def test_missing_database_exit_2_not_created(ctx):
    d = os.path.realpath(tempfile.mkdtemp(prefix="htd-jobs-"))
    try:
        path = os.path.join(d, "nope.db")
        refused(jobs(["--db", path, "list"]), 2, "no state database at " + path,
                "list of a missing database")
        check(not os.path.exists(path), "htd jobs created %s" % path)
        # The default: htd-state.db in the current directory.
        refused(jobs(["list"], cwd=d), 2, "no state database at htd-state.db",
                "list without a database here")
        eq(os.listdir(d), [], "files left in the directory")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_state_db_relative_to_its_directory(ctx):
    cd = ConfDir()
    try:
        os.makedirs(cd.p("data"))
        make_db(cd.p("data/jobs.db"))
        conf = cd.write_conf('state_db = "data/jobs.db";\njobs_path = "/status/";\n')
        elsewhere = os.path.dirname(cd.path)
        p = jobs(["-c", conf, "list", "--state", "done"], cwd=elsewhere)
        ok(p, "list with -c")
        eq([l.split()[0] for l in p.out.splitlines()], ["ID", DONE_ID], "list with -c")
        p = jobs(["show", DONE_ID, "--config", conf], cwd=elsewhere)
        ok(p, "show with --config after the command")
        eq(json.loads(p.out.split("\n")[0])["monitor"], "/status/" + DONE_ID,
           "monitor under the config's jobs_path")
        # Without state_db: htd-state.db beside the config.
        conf = cd.write_conf('jobs_path = "/status/";\n')
        refused(jobs(["-c", conf, "list"], cwd=elsewhere), 2,
                "no state database at " + cd.p("htd-state.db"), "-c without state_db")
        os.rename(cd.p("data/jobs.db"), cd.p("htd-state.db"))
        p = jobs(["-c", conf, "list", "--state", "failed"], cwd=elsewhere)
        ok(p, "list with -c and the default state_db")
        eq([l.split()[0] for l in p.out.splitlines()], ["ID", FAIL_ID],
           "list with -c and the default state_db")
    finally:
        cd.cleanup()


def test_bad_config_exit_2(ctx):
    cd = ConfDir()
    try:
        conf = cd.write_conf('state_dbb = "x.db";\n')
        p = jobs(["-c", conf, "list"])
        eq(p.returncode, 2, "exit status with a bad config")
        check(p.err.startswith("htd jobs: %s:1: unknown setting 'state_dbb'" % conf),
              "stderr with a bad config: %r" % p.err)
    finally:
        cd.cleanup()


def test_waits_for_a_writer(ctx):
    """The server's writer may hold the lock: cancel waits for it, then
    does its work."""
    with JobsDir() as d:
        db = sqlite3.connect(d.db, isolation_level=None, check_same_thread=False)
        db.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, db.execute, ("COMMIT",))
        release.start()
        try:
            t0 = time.monotonic()
            p = d.jobs("cancel", Q2)
            waited = time.monotonic() - t0
        finally:
            release.join()
            db.close()
        ok(p, "cancel while a writer held the lock")
        check(waited >= 0.4, "cancel did not wait for the lock (%.2f s)" % waited)
        eq(d.row(Q2)["state"], CANCELLED, "state after cancel")


# ---- usage ----

def test_help(ctx):
    p = jobs(["--help"])
    ok(p, "--help")
    check(p.out.startswith("usage: htd jobs [--db FILE | -c CONFIG] COMMAND [ARGS]\n"),
          "usage: %r" % p.out[:200])
    for word in ("list", "show ID", "retry ID", "cancel ID", "purge", "--queue", "--state",
                 "--json", "--db FILE", "--config FILE", "Exit status"):
        check(word in p.out, "usage does not mention %r" % word)
    eq(jobs(["list", "-h"]).out, p.out, "list -h")
    p = subprocess.run([harness.HTD, "--help"], capture_output=True, timeout=harness.TIMEOUT)
    check(b"htd jobs --help" in p.stdout, "htd --help does not mention htd jobs --help")


def test_usage_errors_exit_2(ctx):
    with JobsDir() as d:
        cases = [
            ([], "no command: expected list, show, retry, cancel or purge "
                 "(see htd jobs --help)"),
            (["frobnicate"], "unknown command 'frobnicate' (see htd jobs --help)"),
            (["show"], "show needs a job id"),
            (["show", Q1, Q2], "unexpected argument '%s' (see htd jobs --help)" % Q2),
            (["list", "--bogus"], "unknown option '--bogus' (see htd jobs --help)"),
            (["list", "--state"], "--state needs a value (see htd jobs --help)"),
            (["list", "--state", "lost"], "--state: expected queued, running, done, failed "
                                          "or cancelled, got 'lost'"),
            (["list", "--json=yes"], "--json takes no value"),
            (["cancel", Q1, "--json"], "cancel takes no --json (see htd jobs --help)"),
            (["purge", "--json"], "purge takes no --json (see htd jobs --help)"),
            (["-c", "x.conf", "list"], "--db or --config, not both"),
        ]
        for args, err in cases:
            refused(d.jobs(*args), 2, err, "htd jobs %s" % " ".join(args))
        eq(d.row(Q1)["state"], QUEUED, "the queued job after the refused commands")
