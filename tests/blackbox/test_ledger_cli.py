# SPDX-License-Identifier: BSD-2-Clause
"""`htd ledger`: the accounts of metered paths from the command line. Each
test has a state database of its own, made by htd (started once on a queue
and stopped), then: create (the key's form, printed once, kept only as its
SHA-256), a duplicate (exit 1), bad ids (exit 2), credit and debit with exact
balances, a debit beyond the credit limit, less what is reserved (exit 1),
history byte for byte and --since in each form, export --csv read back with
the csv module, verify (0, then 1 after a balance is corrupted), rotate-key
(a new key, a new hash), limit, a missing database (exit 2, named, not
created), -c CONFIG (state_db relative to the config's directory), a writer
holding the lock (waited for), usage errors and --help."""

import csv
import hashlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

import harness
from harness import ConfDir, check, eq

T0 = 1764530107123  # 2025-11-30T19:15:07.123Z
HOUR = 3600 * 1000
DAY = 24 * HOUR

KEY_RE = re.compile(r"^htd_[A-Za-z0-9_-]{43}\n$")


def ledger(args, cwd=None):
    """Runs `htd ledger ARGS`; the CompletedProcess with .out and .err as text."""
    return harness.state_tool("ledger", args, cwd=cwd)


class LedgerDir(harness.StateDir):
    """A temporary directory holding ledger.db, made by htd."""

    def __init__(self):
        super().__init__("ledger.db")

    def run(self, *args, cwd=None):
        """htd ledger --db DB ARGS."""
        return ledger(["--db", self.db] + list(args), cwd=cwd)

    def ok(self, *args):
        """htd ledger --db DB ARGS, which must succeed without a word on
        stderr; its stdout."""
        p = self.run(*args)
        what = "htd ledger " + " ".join(args)
        eq(p.returncode, 0, "exit status of %s (stderr %r)" % (what, p.err))
        eq(p.err, "", "stderr of " + what)
        return p.out

    def create(self, account, *args):
        """A new account; its key."""
        p = self.run("create", account, *args)
        eq(p.returncode, 0, "exit status of create %s (stderr %r)" % (account, p.err))
        check(KEY_RE.match(p.out), "stdout of create: %r" % p.out)
        eq(p.err, "htd ledger: account %s created; its key is shown this once only\n" % account,
           "stderr of create")
        return p.out[:-1]

    def sql(self, statement, params=()):
        """Runs one statement with Python's sqlite3; its rows."""
        db = sqlite3.connect(self.db)
        try:
            rows = db.execute(statement, params).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def key_hash(self, account):
        return self.sql("SELECT key_hash FROM accounts WHERE id = ?", (account,))[0][0]


def refused(p, code, err, what):
    eq(p.returncode, code, "exit status of " + what)
    eq(p.err, "htd ledger: " + err + "\n", "stderr of " + what)
    eq(p.out, "", "stdout of " + what)


# ---- create ----

def test_create_prints_a_key_once_and_keeps_only_its_hash(ctx):
    with LedgerDir() as d:
        key = d.create("acme")
        eq(d.key_hash("acme"), hashlib.sha256(key.encode()).digest(), "the stored key_hash")
        eq(d.ok("balance", "acme"), "acme balance 0 reserved 0 limit 0\n", "a new account")
        outputs = [d.ok("balance"), d.ok("history", "acme"), d.ok("export", "--csv"),
                   d.ok("verify")]
        check(all(key not in o for o in outputs), "the key was printed again: %r" % outputs)
        for name in os.listdir(d.path):
            with open(os.path.join(d.path, name), "rb") as f:
                data = f.read()
            check(key.encode() not in data and key[4:].encode() not in data,
                  "the key is in %s in the clear" % name)
        other = d.create("beta", "--limit", "250")
        check(other != key, "two accounts were given the same key")
        eq(d.ok("balance", "beta"), "beta balance 0 reserved 0 limit 250\n", "create --limit")


def test_create_an_existing_account_exit_1_unchanged(ctx):
    with LedgerDir() as d:
        d.create("acme", "--limit", "10")
        before = d.sql("SELECT * FROM accounts")
        refused(d.run("create", "acme", "--limit", "99"), 1, "account acme exists already",
                "create of an existing account")
        eq(d.sql("SELECT * FROM accounts"), before, "the accounts after a refused create")


def test_bad_account_ids_exit_2(ctx):
    with LedgerDir() as d:
        msg = "'%s' is not an account id: 1 to 64 of A-Z a-z 0-9 . _ -"
        for bad in ("a b", "a/b", "caf\u00e9", "x" * 65, ""):
            refused(d.run("create", bad), 2, msg % bad, "create %r" % bad)
        refused(d.run("credit", "a:b", "5"), 2, msg % "a:b", "credit of a bad id")
        eq(d.ok("balance"), "ACCOUNT  BALANCE  RESERVED  LIMIT\n", "accounts after bad ids")
        # 64 characters are fine; so is a leading '-', after "--".
        d.create("x" * 64)
        p = d.run("create", "--", "-acme")
        eq(p.returncode, 0, "create -- -acme (stderr %r)" % p.err)
        eq(d.ok("credit", "--note", "dash", "--", "-acme", "3"), "-acme balance 3 reserved 0 "
           "limit 0\n", "credit -- -acme")


# ---- credit, debit, limit ----

def test_credit_and_debit_exactly(ctx):
    with LedgerDir() as d:
        d.create("acme")
        eq(d.ok("credit", "acme", "500", "--note", "top-up"),
           "acme balance 500 reserved 0 limit 0\n", "credit")
        eq(d.ok("debit", "acme", "120"), "acme balance 380 reserved 0 limit 0\n", "debit")
        refused(d.run("debit", "acme", "381"), 1,
                "account acme cannot be debited 381: balance 380, reserved 0, limit 0 "
                "(380 available)", "a debit beyond the balance")
        eq(d.ok("debit", "--note=all of it", "acme", "380"),
           "acme balance 0 reserved 0 limit 0\n", "a debit of the whole balance")
        eq(d.sql("SELECT account, amount, balance, kind, note FROM entries ORDER BY seq"),
           [("acme", 500, 500, "credit", "top-up"), ("acme", -120, 380, "debit", None),
            ("acme", -380, 0, "debit", "all of it")], "the entries")
        eq(d.sql("SELECT balance FROM accounts WHERE id = 'acme'"), [(0,)], "the balance")


def test_debit_down_to_the_credit_limit_less_what_is_reserved(ctx):
    with LedgerDir() as d:
        d.create("acme", "--limit", "100")
        eq(d.ok("debit", "acme", "60"), "acme balance -60 reserved 0 limit 100\n", "debit 60")
        refused(d.run("debit", "acme", "41"), 1,
                "account acme cannot be debited 41: balance -60, reserved 0, limit 100 "
                "(40 available)", "a debit beyond the limit")
        eq(d.ok("debit", "acme", "40"), "acme balance -100 reserved 0 limit 100\n",
           "a debit down to the limit")
        refused(d.run("debit", "acme", "1"), 1,
                "account acme cannot be debited 1: balance -100, reserved 0, limit 100 "
                "(0 available)", "a debit past the limit")
        # What a response under way has reserved is not there to debit.
        d.create("beta")
        d.ok("credit", "beta", "50")
        d.sql("INSERT INTO reservations (id, account, amount, created) "
              "VALUES ('res1', 'beta', 30, ?)", (T0,))
        d.sql("UPDATE accounts SET reserved = 30 WHERE id = 'beta'")
        refused(d.run("debit", "beta", "21"), 1,
                "account beta cannot be debited 21: balance 50, reserved 30, limit 0 "
                "(20 available)", "a debit of what is reserved")
        eq(d.ok("debit", "beta", "20"), "beta balance 30 reserved 30 limit 0\n",
           "a debit of what is not reserved")
        eq(d.ok("verify"), "verified 2 accounts: no problems\n", "verify")


def test_amounts_are_positive_whole_numbers(ctx):
    with LedgerDir() as d:
        d.create("acme")
        for cmd in ("credit", "debit"):
            for bad in ("0", "-5", "1.5", "1e3", " 7", "abc", "1000000000000001"):
                refused(d.run(cmd, "acme", bad), 2,
                        "%s: expected a whole number from 1 to 1000000000000000, got '%s'"
                        % (cmd, bad), "%s %r" % (cmd, bad))
        eq(d.ok("credit", "acme", "1000000000000000"),
           "acme balance 1000000000000000 reserved 0 limit 0\n", "the largest credit")
        # No balance goes past 10^18, far from where SQLite's integers end.
        d.sql("UPDATE accounts SET balance = 999999999999999000 WHERE id = 'acme'")
        eq(d.ok("credit", "acme", "1000"), "acme balance 1000000000000000000 reserved 0 "
           "limit 0\n", "a credit up to 10^18")
        refused(d.run("credit", "acme", "1"), 1,
                "account acme cannot be credited 1: balance 1000000000000000000, at most "
                "1000000000000000000", "a credit past 10^18")
        refused(d.run("limit", "acme", "-1"), 2,
                "limit: expected a whole number from 0 to 1000000000000000, got '-1'",
                "limit -1")
        refused(d.run("create", "beta", "--limit", "x"), 2,
                "--limit: expected a whole number from 0 to 1000000000000000, got 'x'",
                "create --limit x")
        eq(d.sql("SELECT count(*) FROM entries"), [(2,)], "entries after the refusals")


def test_limit(ctx):
    with LedgerDir() as d:
        d.create("acme")
        eq(d.ok("limit", "acme", "50"), "acme balance 0 reserved 0 limit 50\n", "limit 50")
        d.ok("debit", "acme", "30")
        refused(d.run("limit", "acme", "29"), 1,
                "account acme has a balance of -30: its credit limit cannot be less than 30",
                "a limit the balance is below")
        eq(d.ok("limit", "acme", "30"), "acme balance -30 reserved 0 limit 30\n", "limit 30")
        d.ok("credit", "acme", "30")
        eq(d.ok("limit", "acme", "0"), "acme balance 0 reserved 0 limit 0\n", "limit 0")
        eq(d.sql("SELECT credit_limit FROM accounts"), [(0,)], "the stored limit")


def test_unknown_account_exit_2(ctx):
    with LedgerDir() as d:
        d.create("acme")
        for args in (["credit", "nobody", "5"], ["debit", "nobody", "5"],
                     ["limit", "nobody", "5"], ["rotate-key", "nobody"],
                     ["balance", "nobody"], ["history", "nobody"],
                     ["export", "--csv", "nobody"]):
            refused(d.run(*args), 2, "no account nobody", " ".join(args))
        eq(d.sql("SELECT count(*) FROM entries"), [(0,)], "entries")


# ---- balance, history, export ----

def fill(d):
    """acme: a credit, a debit, a charge as the server would record it, a
    credit with an awkward note; beta: a credit. At fixed times."""
    d.create("acme", "--limit", "50")
    d.create("beta")
    d.ok("credit", "acme", "500", "--note", "monthly top-up")
    d.ok("debit", "acme", "120")
    d.sql("INSERT INTO entries (account, amount, balance, time, kind, request, vhost, path, "
          "status, bytes, idem_key) VALUES ('acme', -30, 350, 0, 'charge', 'req-1', "
          "'api.example', '/v1/render', 200, 4096, 'k-7')")
    d.sql("UPDATE accounts SET balance = 350 WHERE id = 'acme'")
    d.ok("credit", "acme", "5", "--note", 'a "quoted", two-line\nnote')
    d.ok("credit", "beta", "1234567")
    for seq, t in ((1, T0), (2, T0 + HOUR), (3, T0 + DAY), (4, T0 + 2 * DAY), (5, T0 + 3 * DAY)):
        d.sql("UPDATE entries SET time = ? WHERE seq = ?", (t, seq))


ACME_HISTORY = [
    "SEQ  TIME                  AMOUNT  BALANCE  KIND    DETAILS\n",
    "  1  2025-11-30T19:15:07Z    +500      500  credit  note=\"monthly top-up\"\n",
    "  2  2025-11-30T20:15:07Z    -120      380  debit\n",
    "  3  2025-12-01T19:15:07Z     -30      350  charge  request=req-1 vhost=api.example "
    "path=/v1/render status=200 bytes=4096 idem_key=k-7\n",
    "  4  2025-12-02T19:15:07Z      +5      355  credit  note=\"a \\\"quoted\\\", "
    "two-line\\x0anote\"\n",
]


def test_balance_of_one_and_of_all(ctx):
    with LedgerDir() as d:
        eq(d.ok("balance"), "ACCOUNT  BALANCE  RESERVED  LIMIT\n", "no accounts: the header")
        fill(d)
        eq(d.ok("balance", "acme"), "acme balance 355 reserved 0 limit 50\n", "balance acme")
        d.create("a-much-longer-name")
        eq(d.ok("balance"),
           "ACCOUNT             BALANCE  RESERVED  LIMIT\n"
           "a-much-longer-name        0         0      0\n"
           "acme                    355         0     50\n"
           "beta                1234567         0      0\n", "balance of every account")


def test_history_oldest_first_with_its_details(ctx):
    with LedgerDir() as d:
        fill(d)
        eq(d.ok("history", "acme"), "".join(ACME_HISTORY), "history acme")
        eq(d.ok("history", "beta"),
           "SEQ  TIME                    AMOUNT  BALANCE  KIND    DETAILS\n"
           "  5  2025-12-03T19:15:07Z  +1234567  1234567  credit\n", "history beta")
        d.create("empty")
        eq(d.ok("history", "empty"), "SEQ  TIME                  AMOUNT  BALANCE  KIND  DETAILS\n",
           "history of an account without entries")


def test_history_since(ctx):
    with LedgerDir() as d:
        fill(d)
        header = ACME_HISTORY[0]
        cases = [
            ("2025-12-01", ACME_HISTORY[3:]),
            ("2025-12-01T19:15:07Z", ACME_HISTORY[3:]),  # .123 of that second is after it
            ("2025-12-01T19:15:07.123Z", ACME_HISTORY[3:]),
            ("2025-12-01T19:15:07.124Z", ACME_HISTORY[4:]),
            ("2025-12-01T19:15:07.2Z", ACME_HISTORY[4:]),
            (str((T0 + HOUR) // 1000), ACME_HISTORY[2:]),
            (str((T0 + HOUR) // 1000 + 1), ACME_HISTORY[3:]),
            ("1970-01-01", ACME_HISTORY[1:]),
        ]
        for since, rows in cases:
            eq(d.ok("history", "acme", "--since", since), header + "".join(rows),
               "history --since %s" % since)
        eq(d.ok("history", "acme", "--since", "2025-12-03"),
           "SEQ  TIME                  AMOUNT  BALANCE  KIND  DETAILS\n",
           "history --since after the last entry: the header alone")
        eq(d.ok("history", "--since=2025-12-02", "acme"), header + ACME_HISTORY[4],
           "history --since=TIME before the account")
        for bad in ("2025-02-30", "2025-12-01T24:00:00Z", "2025-12-01T19:15:07",
                    "2025-12-01 19:15:07Z", "yesterday", "-5", "2025-1-1", "12.5"):
            refused(d.run("history", "acme", "--since", bad), 2,
                    "--since: expected a time like 2026-11-30T19:00:00Z or 2026-11-30 (UTC), "
                    "or seconds since 1970, got '%s'" % bad, "--since %r" % bad)


CSV_HEADER = ["seq", "time", "account", "amount", "balance", "kind", "note", "request", "vhost",
              "path", "status", "bytes", "idem_key"]


def test_export_csv(ctx):
    with LedgerDir() as d:
        fill(d)
        p = d.run("export", "--csv")
        eq((p.returncode, p.err), (0, ""), "exit status and stderr of export --csv")
        lines = p.stdout.split(b"\r\n")
        eq(lines[0], b",".join(h.encode() for h in CSV_HEADER), "the header row")
        eq(lines[1], b"1,2025-11-30T19:15:07.123Z,acme,500,500,credit,monthly top-up,,,,,,",
           "the first row, byte for byte")
        eq(lines[-1], b"", "the end: CRLF after the last row")
        rows = list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))
        eq(rows[0], CSV_HEADER, "the header")
        got = [dict(zip(CSV_HEADER, r)) for r in rows[1:]]
        eq([r["seq"] for r in got], ["1", "2", "3", "4", "5"], "seq of every entry, in order")
        eq(got[1], {"seq": "2", "time": "2025-11-30T20:15:07.123Z", "account": "acme",
                    "amount": "-120", "balance": "380", "kind": "debit", "note": "",
                    "request": "", "vhost": "", "path": "", "status": "", "bytes": "",
                    "idem_key": ""}, "the debit")
        eq(got[2], {"seq": "3", "time": "2025-12-01T19:15:07.123Z", "account": "acme",
                    "amount": "-30", "balance": "350", "kind": "charge", "note": "",
                    "request": "req-1", "vhost": "api.example", "path": "/v1/render",
                    "status": "200", "bytes": "4096", "idem_key": "k-7"}, "the charge")
        eq(got[3]["note"], 'a "quoted", two-line\nnote', "the awkward note, read back")
        eq(got[4]["account"], "beta", "the last entry's account")
        p = d.run("export", "acme", "--csv", "--since", "2025-12-01")
        eq(p.returncode, 0, "export acme --since")
        rows = list(csv.reader(io.StringIO(p.stdout.decode(), newline="")))
        eq([r[0] for r in rows], ["seq", "3", "4"], "export acme --since 2025-12-01")
        p = d.run("export", "--csv", "beta")
        eq(p.stdout, b",".join(h.encode() for h in CSV_HEADER) + b"\r\n"
           b"5,2025-12-03T19:15:07.123Z,beta,1234567,1234567,credit,,,,,,,\r\n", "export beta")


# ---- verify ----

def test_verify_finds_a_corrupted_balance(ctx):
    with LedgerDir() as d:
        eq(d.ok("verify"), "verified 0 accounts: no problems\n", "verify of no accounts")
        fill(d)
        eq(d.ok("verify"), "verified 2 accounts: no problems\n", "verify")
        d.sql("UPDATE accounts SET balance = 999 WHERE id = 'acme'")
        p = d.run("verify")
        eq(p.returncode, 1, "exit status of verify with a corrupted balance")
        eq(p.err, "", "stderr of verify")
        eq(p.out, "acme: balance 999 is not the sum of its entries, 355\n"
                  "acme: balance 999 is not the last entry's, 355\n"
                  "verified 2 accounts: 2 problems\n", "verify with a corrupted balance")
        d.sql("UPDATE accounts SET balance = 355, reserved = 7 WHERE id = 'acme'")
        p = d.run("verify")
        eq((p.returncode, p.out), (1, "acme: reserved 7 is not the sum of its reservations, 0\n"
                                      "verified 2 accounts: 1 problem\n"),
           "verify with a wrong reserved")


# ---- rotate-key ----

def test_rotate_key(ctx):
    with LedgerDir() as d:
        old = d.create("acme")
        d.ok("credit", "acme", "10")
        eq(d.key_hash("acme"), hashlib.sha256(old.encode()).digest(), "the hash before")
        p = d.run("rotate-key", "acme")
        eq(p.returncode, 0, "exit status of rotate-key (stderr %r)" % p.err)
        check(KEY_RE.match(p.out), "stdout of rotate-key: %r" % p.out)
        eq(p.err, "htd ledger: account acme has a new key, shown this once only; the old one no "
                  "longer works\n", "stderr of rotate-key")
        new = p.out[:-1]
        check(new != old, "rotate-key gave the same key")
        eq(d.key_hash("acme"), hashlib.sha256(new.encode()).digest(), "the hash after")
        eq(d.ok("balance", "acme"), "acme balance 10 reserved 0 limit 0\n",
           "the balance after rotate-key")


# ---- the database ----

def test_missing_database_exit_2_not_created(ctx):
    d = os.path.realpath(tempfile.mkdtemp(prefix="htd-ledger-"))
    try:
        path = os.path.join(d, "nope.db")
        refused(ledger(["--db", path, "create", "acme"]), 2, "no state database at " + path,
                "create in a missing database")
        check(not os.path.exists(path), "htd ledger created %s" % path)
        refused(ledger(["balance"], cwd=d), 2, "no state database at htd-state.db",
                "balance without a database here")
        eq(os.listdir(d), [], "files left in the directory")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_state_db_relative_to_its_directory(ctx):
    cd = ConfDir()
    try:
        os.makedirs(cd.p("data"))
        harness.make_state_db(cd.p("data/state.db"))
        conf = cd.write_conf('state_db = "data/state.db";\n')
        elsewhere = os.path.dirname(cd.path)
        p = ledger(["-c", conf, "create", "acme"], cwd=elsewhere)
        eq(p.returncode, 0, "create with -c (stderr %r)" % p.err)
        p = ledger(["credit", "acme", "7", "--config", conf], cwd=elsewhere)
        eq((p.returncode, p.out), (0, "acme balance 7 reserved 0 limit 0\n"),
           "credit with --config after the command")
        db = sqlite3.connect(cd.p("data/state.db"))
        try:
            eq(db.execute("SELECT id, balance FROM accounts").fetchall(), [("acme", 7)],
               "the account, in the config's state_db")
        finally:
            db.close()
        # Without state_db: htd-state.db beside the config.
        conf = cd.write_conf('listen = ["127.0.0.1:0"];\n')
        refused(ledger(["-c", conf, "balance"], cwd=elsewhere), 2,
                "no state database at " + cd.p("htd-state.db"), "-c without state_db")
        os.rename(cd.p("data/state.db"), cd.p("htd-state.db"))
        p = ledger(["-c", conf, "balance", "acme"], cwd=elsewhere)
        eq((p.returncode, p.out), (0, "acme balance 7 reserved 0 limit 0\n"),
           "balance with -c and the default state_db")
    finally:
        cd.cleanup()


def test_waits_for_a_writer(ctx):
    """The server's writer may hold the lock: a credit waits for it."""
    with LedgerDir() as d:
        d.create("acme")
        db = sqlite3.connect(d.db, isolation_level=None, check_same_thread=False)
        db.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, db.execute, ("COMMIT",))
        release.start()
        try:
            t0 = time.monotonic()
            p = d.run("credit", "acme", "9")
            waited = time.monotonic() - t0
        finally:
            release.join()
            db.close()
        eq((p.returncode, p.out), (0, "acme balance 9 reserved 0 limit 0\n"),
           "credit while a writer held the lock")
        check(waited >= 0.4, "credit did not wait for the lock (%.2f s)" % waited)


# ---- usage ----

def test_help(ctx):
    p = ledger(["--help"])
    eq((p.returncode, p.err), (0, ""), "exit status and stderr of --help")
    check(p.out.startswith("usage: htd ledger [--db FILE | -c CONFIG] COMMAND [ARGS]\n"),
          "usage: %r" % p.out[:200])
    for word in ("create ACCOUNT [--limit N]", "credit ACCOUNT N [--note TEXT]",
                 "debit ACCOUNT N [--note TEXT]", "balance [ACCOUNT]",
                 "history ACCOUNT [--since TIME]", "export --csv [ACCOUNT] [--since TIME]",
                 "verify", "rotate-key ACCOUNT", "limit ACCOUNT N", "--db FILE",
                 "--config FILE", "Exit status"):
        check(word in p.out, "usage does not mention %r" % word)
    eq(ledger(["balance", "-h"]).out, p.out, "balance -h")
    p = subprocess.run([harness.HTD, "--help"], capture_output=True, timeout=harness.TIMEOUT)
    check(b"htd ledger --help" in p.stdout, "htd --help does not mention htd ledger --help")


def test_usage_errors_exit_2(ctx):
    with LedgerDir() as d:
        d.create("acme")
        cases = [
            ([], "no command: expected create, credit, debit, balance, history, export, "
                 "verify, rotate-key or limit (see htd ledger --help)"),
            (["frobnicate"], "unknown command 'frobnicate' (see htd ledger --help)"),
            (["create"], "create needs an account"),
            (["credit", "acme"], "credit needs an account and an amount"),
            (["limit"], "limit needs an account and a credit limit"),
            (["history"], "history needs an account"),
            (["balance", "acme", "beta"], "unexpected argument 'beta' (see htd ledger --help)"),
            (["verify", "acme"], "unexpected argument 'acme' (see htd ledger --help)"),
            (["credit", "acme", "5", "6"], "unexpected argument '6' (see htd ledger --help)"),
            (["balance", "--bogus"], "unknown option '--bogus' (see htd ledger --help)"),
            (["credit", "acme", "5", "--note"], "--note needs a value (see htd ledger --help)"),
            (["export", "--csv=yes"], "--csv takes no value"),
            (["export"], "export needs --csv (see htd ledger --help)"),
            (["history", "acme", "--csv"], "history takes no --csv (see htd ledger --help)"),
            (["credit", "acme", "5", "--limit", "3"],
             "credit takes no --limit (see htd ledger --help)"),
            (["create", "beta", "--note", "x"], "create takes no --note (see htd ledger --help)"),
            (["balance", "--since", "2025-01-01"],
             "balance takes no --since (see htd ledger --help)"),
            (["-c", "x.conf", "balance"], "--db or --config, not both"),
        ]
        for args, err in cases:
            refused(d.run(*args), 2, err, "htd ledger %s" % " ".join(args))
        eq(d.sql("SELECT id, balance FROM accounts"), [("acme", 0)], "accounts after all that")
