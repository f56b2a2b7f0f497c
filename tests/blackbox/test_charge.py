# SPDX-License-Identifier: BSD-2-Clause
"""Metered paths (402 Payment Required): 402 without ChargeTo, for an
unknown account and for too little credit, each with its PAYMENT-REQUIRED
header decoded and checked; 401 for a wrong key; 200 with the Charge header
and the balance going down exactly; a 404 not charged; per-KiB prices up to
max_kib, reserved once the response's size is known, a 402 in place of a
response the account cannot cover; HEAD free unless priced; a script and a store path behind a price;
Idempotency-Key; a credit made with htd ledger usable at once; 32
keep-alive clients spending an account down to zero with no overdraft and a
clean verify."""

import base64
import http.client
import json

import socket
import subprocess
import threading

import harness
from harness import ConfDir, check, eq, get, start_htd_config, wait_until


SCRIPT = b"""#!/bin/sh
printf 'Content-Type: text/plain\\n\\nscript ran\\n'
"""
FAILING = b"""#!/bin/sh
exit 3
"""


class Metered:
    def __init__(self, price=3, credit=10):
        self.cd = ConfDir({"www/api/x.txt": b"data\n", "www/kib/3k.bin": b"k" * 3000,
                           "www/kib/10k.bin": b"t" * 10240})
        self.cd.write("www/cgi-bin/s.sh", SCRIPT, 0o755)
        self.cd.write("www/cgi-bin/fail.sh", FAILING, 0o755)
        self.cd.write("www/kib/cgi/s.sh", SCRIPT, 0o755)
        self.cd.mkdir("www/up")
        conf = ('root = "www";\nstate_db = "state.db";\ncgi = ["/cgi-bin/", "/kib/cgi/"];\n'
                'access_log = "access.log";\n'
                'log_format = "$status $request_uri $charge_account $charge";\n'
                'writable = ["/up/"];\n'
                'rules = ( { prefix = "/api/"; price = %d; },\n'
                '  { prefix = "/kib/"; price = { request = 1; per_kib = 2; max_kib = 4; head = 1; }; },\n'
                '  { prefix = "/cgi-bin/"; price = 2; },\n'
                '  { prefix = "/up/"; price = 5; } );\n' % price)
        self.conf = conf
        self.srv = start_htd_config(conf, confdir=self.cd)
        self.key = self.ledger("create", "acme").strip()
        if credit:
            self.ledger("credit", "acme", str(credit))

    def ledger(self, *args):
        p = subprocess.run([harness.HTD, "ledger", "-c", self.cd.conf] + list(args),
                           capture_output=True, timeout=harness.TIMEOUT)
        eq(p.returncode, 0, "htd ledger %s (%r)" % (" ".join(args), p.stderr))
        return p.stdout.decode()

    def balance(self):
        return int(self.ledger("balance", "acme").split()[2])

    def pay(self, path="/api/x.txt", key=None, account="acme", method="GET", headers=(),
            body=b""):
        h = [("ChargeTo", account), ("Authorization", "Bearer " + (key or self.key))]
        if body or method in ("PUT", "POST"):
            h.append(("Content-Length", str(len(body))))
        return get(self.srv, path, method, headers=h + list(headers), body=body)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.srv.stop()
        self.srv.cleanup()
        self.cd.cleanup()
        return False


def payment_required(r, amount):
    """The 402's PAYMENT-REQUIRED header, decoded and checked."""
    eq(r.status, 402, "status")
    v = r.get("PAYMENT-REQUIRED")
    check(v is not None, "PAYMENT-REQUIRED header: %r" % r.headers)
    doc = json.loads(base64.b64decode(v))
    eq(doc["x402Version"], 2, "x402Version")
    acc = doc["accepts"][0]
    eq((acc["scheme"], acc["asset"], acc["amount"], acc["extra"]["header"]),
       ("htd-credits", "credits", str(amount), "ChargeTo"), "the scheme accepted")
    check("Bearer" in acc["extra"]["proof"], "how to prove it: %r" % acc)
    body = json.loads(r.body)
    eq(body["accepts"], doc["accepts"], "the body says the same for people")
    return doc, body


def test_charge_402_401_and_exact_charges(ctx):
    with Metered() as m:
        doc, _ = payment_required(get(m.srv, "/api/x.txt"), 3)
        eq(doc["resource"]["url"], "/api/x.txt", "the resource")
        check("ChargeTo" in doc["error"], "why: %r" % doc["error"])
        doc, _ = payment_required(get(m.srv, "/api/a%22b%5Cc"), 3)
        eq(doc["resource"]["url"], '/api/a"b\\c', "a path with a quote and a backslash")
        payment_required(m.pay(account="nobody"), 3)
        eq(m.pay(key="htd_wrong").status, 401, "a wrong key")
        r = m.pay()
        eq((r.status, r.body, r.get("Charge")), (200, b"data\n", "3; balance=7"),
           "a paid response")
        eq(m.balance(), 7, "the balance after one")
        eq(m.pay("/api/missing").status, 404, "a 404")
        eq(m.balance(), 7, "a 404 is not charged")
        m.pay()
        m.pay()
        r = m.pay()
        _, body = payment_required(r, 3)
        eq((body["account"], body["balance"], body["reserved"], body["limit"]), ("acme", 1, 0, 0),
           "the 402 says what the account has")
        eq(m.balance(), 1, "three charged")
        eq(get(m.srv, "/index.html").status, 404, "paths without a price are free")


def test_charge_32_clients_spend_an_account_down_with_no_overdraft(ctx):
    with Metered(price=3, credit=1000) as m:
        served, lock = [0], threading.Lock()

        def client():
            c = harness.connect(m.srv)
            n = 0
            while True:
                c.send(harness.req("/api/x.txt", headers=[
                    ("ChargeTo", "acme"), ("Authorization", "Bearer " + m.key)]))
                r = c.read_response()
                if r.status != 200:
                    eq(r.status, 402, "the only other answer")
                    break
                n += 1
            c.close()
            with lock:
                served[0] += n
        ts = [threading.Thread(target=client) for _ in range(32)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        eq(served[0], 333, "responses served: 1000 // 3")
        eq(m.balance(), 1, "1000 - 333 x 3")
        out = m.ledger("verify")
        check("no problems" in out, "verify: %r" % out)


def test_charge_per_kib_head_script_store_and_a_credit_usable_at_once(ctx):
    with Metered(credit=0) as m:
        r = m.pay("/kib/3k.bin")
        _, body = payment_required(r, 1)
        eq(body["balance"], 0, "an empty account")
        m.ledger("credit", "acme", "100")  # made while htd runs: usable at once
        r = m.pay("/kib/3k.bin")
        eq((r.status, len(r.body)), (200, 3000), "a paid file")
        eq(r.get("Charge"), "7; balance=93", "the header: what it cost, what is left")
        eq(m.balance(), 100 - 7, "1 + 3 started KiB x 2")
        m.pay("/kib/10k.bin")
        eq(m.balance(), 93 - 9, "10 KiB charged as max_kib = 4")
        eq(m.pay("/kib/3k.bin", method="HEAD").status, 200, "HEAD")
        eq(m.balance(), 84 - 1, "HEAD's own price")
        r = m.pay("/cgi-bin/s.sh")
        eq((r.status, r.body), (200, b"script ran\n"), "a script behind a price")
        eq(m.balance(), 83 - 2, "the script's price")
        eq(m.pay("/up/doc.txt", method="PUT", body=b"stored").status, 201, "a store path")
        eq(m.balance(), 81 - 5, "the store's price")
        eq(m.cd.read("www/up/doc.txt"), b"stored", "stored")
        hist = m.ledger("history", "acme")
        check("status=201" in hist and "path=/up/doc.txt" in hist, "the reason: %r" % hist)


def test_charge_per_kib_holds_what_the_response_costs_once_its_size_is_known(ctx):
    with Metered(credit=8) as m:
        # max_kib's worth (1 + 4 x 2 = 9) is more than the account has: a
        # 3000-byte file (1 + 3 x 2 = 7) is served all the same
        r = m.pay("/kib/3k.bin")
        eq((r.status, len(r.body), r.get("Charge")), (200, 3000, "7; balance=1"), "served")
        eq(m.balance(), 1, "charged what it cost")
        # 1 left: the request's own part is held, the file's size is not
        # covered: a 402 in its place, on a connection that goes on
        conn = http.client.HTTPConnection("127.0.0.1", m.srv.port, timeout=harness.TIMEOUT)
        h = {"ChargeTo": "acme", "Authorization": "Bearer " + m.key}
        conn.request("GET", "/kib/3k.bin", headers=h)
        r = conn.getresponse()
        body = r.read()
        eq(r.status, 402, "too little for the file")
        doc = json.loads(base64.b64decode(r.getheader("PAYMENT-REQUIRED")))
        check("3000 bytes and costs 7" in doc["error"], "what it costs: %r" % doc)
        doc = json.loads(body)
        eq((doc["balance"], doc["reserved"]), (1, 0), "the account as it stands")
        conn.request("GET", "/kib/3k.bin", headers=dict(h, ChargeTo="nobody"))
        r = conn.getresponse()
        eq((r.status, json.loads(r.read())["error"]), (402, "no such account"),
           "the connection goes on after it")
        conn.close()
        eq(m.balance(), 1, "nothing charged for the 402")
        eq(m.pay("/kib/3k.bin", method="HEAD").status, 200, "HEAD costs its own price")
        eq(m.balance(), 0, "HEAD's price")
        # a script's length is known when it ends: max_kib's worth is held
        m.ledger("credit", "acme", "8")
        r = m.pay("/kib/cgi/s.sh")
        eq(r.status, 402, "8 of 9")
        check(b"may cost 9" in r.body, "why: %r" % r.body)
        m.ledger("credit", "acme", "1")
        r = m.pay("/kib/cgi/s.sh")
        eq((r.status, r.body, r.get("Charge")),
           (200, b"script ran\n", "1; per-kib=2; reserved=9; available=0"), "a streamed body")
        eq(m.balance(), 6, "11 bytes: 1 + 1 x 2")
        out = m.ledger("verify")
        check("no problems" in out, "verify: %r" % out)
        m.srv.stop()
        log = sorted(m.cd.read("access.log").decode().splitlines())
        eq(log, ["200 /kib/3k.bin acme 1", "200 /kib/3k.bin acme 7", "200 /kib/cgi/s.sh acme 3",
                 "402 /kib/3k.bin - -", "402 /kib/3k.bin acme 0", "402 /kib/cgi/s.sh acme 0"],
           "the access log: the 402s, not what they stood in for")


def test_charge_idempotency_key_is_charged_once(ctx):
    with Metered(credit=20) as m:
        k = ("Idempotency-Key", '"order-17"')
        r = m.pay(headers=[k])
        eq((r.status, r.get("Charge")), (200, "3; balance=17"), "the first")
        r = m.pay(headers=[k])
        eq((r.status, r.get("Charge")), (200, "0; repeat"), "the same key again")
        eq(m.balance(), 17, "charged once")
        m.pay(headers=[("Idempotency-Key", '"order-18"')])
        eq(m.balance(), 14, "another key is another charge")


def test_charge_304_is_charged_404_and_5xx_are_not_and_the_log_says_so(ctx):
    with Metered(credit=20) as m:
        r = m.pay()
        etag = r.get("ETag")
        eq(m.balance(), 17, "a 200")
        r = m.pay(headers=[("If-None-Match", etag)])
        eq(r.status, 304, "a 304")
        eq(m.balance(), 14, "a 304 is served: charged")
        eq(m.pay("/api/nothing").status, 404, "a 404")
        eq(m.pay("/cgi-bin/fail.sh").status, 500, "a 500")
        eq(m.balance(), 14, "neither charged")
        eq(get(m.srv, "/api/x.txt").status, 402, "and a 402")
        m.srv.stop()
        # each worker thread writes its own lines: compared in order of status
        log = sorted(m.cd.read("access.log").decode().splitlines())
        eq(log, ["200 /api/x.txt acme 3", "304 /api/x.txt acme 3", "402 /api/x.txt - -",
                 "404 /api/nothing acme 0", "500 /cgi-bin/fail.sh acme 0"], "the access log")


def test_charge_sigkill_during_spending_every_whole_response_charged_no_charge_without_one(ctx):
    """32 keep-alive clients spend; htd is SIGKILLed among them and started
    again. Every response a client received whole was charged; no charge
    exists for a response that did not begin (charges <= responses begun);
    no reservation is left held; verify passes."""
    with Metered(price=1, credit=1000000) as m:
        whole, begun, lock, stop = [0], [0], threading.Lock(), threading.Event()

        def client():
            try:
                c = harness.connect(m.srv)
            except OSError:
                return
            while not stop.is_set():
                try:
                    c.send(harness.req("/api/x.txt", headers=[
                        ("ChargeTo", "acme"), ("Authorization", "Bearer " + m.key)]))
                    while not c.buf and c._fill():
                        pass
                except (OSError, harness.TestFailure):
                    return
                if not c.buf:
                    return  # nothing of this response came
                with lock:
                    begun[0] += 1
                try:
                    r = c.read_response()
                except (OSError, harness.TestFailure):
                    return
                if r.status == 200 and r.body == b"data\n":
                    with lock:
                        whole[0] += 1
        ts = [threading.Thread(target=client) for _ in range(32)]
        for t in ts:
            t.start()
        wait_until(lambda: whole[0] >= 2000, timeout=30, what="2,000 paid responses")
        m.srv.kill()
        stop.set()
        for t in ts:
            t.join(10)
        m.srv.cleanup()
        m.srv = start_htd_config(m.conf, confdir=m.cd)
        charges = 1000000 - m.balance()
        check(whole[0] <= charges <= begun[0],
              "whole %d <= charged %d <= begun %d" % (whole[0], charges, begun[0]))
        out = m.ledger("verify")
        check("no problems" in out, "verify after the restart: %r" % out)
        eq(m.ledger("balance", "acme").split()[4], "0", "nothing left reserved")


def test_charge_a_basic_user_of_the_realm_who_is_the_account_pays_without_a_key(ctx):
    cd = ConfDir({"www/basic/x.txt": b"basic\n"})
    try:
        harness.tool(["htpasswd", "-bcB", cd.p("users"), "acme", "pw"],
                     "apt-get install apache2-utils")
        harness.tool(["htpasswd", "-bB", cd.p("users"), "other", "pw2"],
                     "apt-get install apache2-utils")
        conf = ('root = "www";\nstate_db = "state.db";\n'
                'rules = ( { prefix = "/basic/"; price = 4;\n'
                '  auth = { realm = "paid"; htpasswd = "users"; }; } );\n')
        srv = start_htd_config(conf, confdir=cd)
        try:
            p = subprocess.run([harness.HTD, "ledger", "-c", cd.conf, "create", "acme"],
                               capture_output=True, timeout=harness.TIMEOUT)
            eq(p.returncode, 0, "create")
            subprocess.run([harness.HTD, "ledger", "-c", cd.conf, "credit", "acme", "10"],
                           capture_output=True, timeout=harness.TIMEOUT)
            h = [("ChargeTo", "acme")]
            eq(get(srv, "/basic/x.txt", headers=h).status, 401, "no password: the realm's 401")
            r = get(srv, "/basic/x.txt", headers=h + [harness.basic("acme", "pw")])
            eq((r.status, r.get("Charge")), (200, "4; balance=6"), "the account's own user")
            r = get(srv, "/basic/x.txt", headers=h + [harness.basic("other", "pw2")])
            eq(r.status, 401, "another user of the realm cannot charge acme")
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        cd.cleanup()
