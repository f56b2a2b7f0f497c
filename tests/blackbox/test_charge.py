"""Metered paths (402 Payment Required), work in progress: 402 without
ChargeTo, for an unknown account and for too little credit; 401 for a wrong
key; 200 with the Charge header and the balance going down exactly; a 404
not charged; 32 keep-alive clients spending an account down to zero with no
overdraft and a clean verify."""

import socket
import subprocess
import threading

import harness
from harness import ConfDir, check, eq, get, start_htd_config


class Metered:
    def __init__(self, price=3, credit=10):
        self.cd = ConfDir({"www/api/x.txt": b"data\n"})
        conf = ('root = "www";\nstate_db = "state.db";\n'
                'rules = ( { prefix = "/api/"; price = %d; } );\n' % price)
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

    def pay(self, path="/api/x.txt", key=None, account="acme"):
        return get(self.srv, path, headers=[("ChargeTo", account),
                                            ("Authorization", "Bearer " + (key or self.key))])

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.srv.stop()
        self.srv.cleanup()
        self.cd.cleanup()
        return False


def test_charge_402_401_and_exact_charges(ctx):
    with Metered() as m:
        eq(get(m.srv, "/api/x.txt").status, 402, "no ChargeTo")
        eq(m.pay(account="nobody").status, 402, "an unknown account")
        eq(m.pay(key="htd_wrong").status, 401, "a wrong key")
        r = m.pay()
        eq((r.status, r.body, r.get("Charge")), (200, b"data\n", "3 credits; balance=7"),
           "a paid response")
        eq(m.balance(), 7, "the balance after one")
        eq(m.pay("/api/missing").status, 404, "a 404")
        eq(m.balance(), 7, "a 404 is not charged")
        m.pay()
        m.pay()
        r = m.pay()
        eq(r.status, 402, "too little credit")
        check(b"1 credits available" in r.body, "the 402 says what is available: %r" % r.body)
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
