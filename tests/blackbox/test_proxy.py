# SPDX-License-Identifier: BSD-2-Clause
"""Client addresses behind a proxy or load balancer: PROXY protocol v1 and v2
on a listener marked proxy_protocol, and X-Forwarded-For or Forwarded taken
from trusted proxies only. The address found feeds the access log, an
access rule and a script's REMOTE_ADDR; a malformed PROXY header closes the
connection unanswered."""

import os
import socket
import struct
import time

import harness
from harness import check, eq, req

FILE = b"behind a proxy\n"
ENV_SH = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nprintf '%s\\n' \"$REMOTE_ADDR\"\n"


def _conf(extra_top="", listen_opts=""):
    return ('root = "site";\naccess_log = "logs/access.log";\ncgi = ["/cgi-bin/"];\n'
            + extra_top +
            'rules = ( { prefix = "/closed/"; access = ["deny 203.0.113.0/24"]; } );\n')


FILES = {"site/file.txt": FILE, "site/closed/file.txt": FILE, "logs/.keep": ""}


def _start(conf, listen=("127.0.0.1:0",)):
    cd = harness.ConfDir(FILES)
    cd.write("site/cgi-bin/addr.sh", ENV_SH, mode=0o755)
    return harness.start_htd_config(conf, listen=listen, confdir=cd), cd


def _log_addrs(cd, n):
    path = cd.p("logs/access.log")
    lines = []

    def have():
        nonlocal lines
        with open(path, "rb") as f:
            lines = f.read().decode().splitlines()
        return len(lines) >= n
    harness.wait_until(have, what="%d access log lines" % n)
    return [l.split(" ", 1)[0] for l in lines]


def _v1(src, dst="192.0.2.1", sport=56324, dport=443):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def _v2(src, dst="192.0.2.1", sport=56324, dport=443, local=False, tlv=b""):
    if local:
        return SIG + bytes([0x20, 0x00]) + struct.pack("!H", len(tlv)) + tlv
    if ":" in src:
        body = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        fam = 0x21
    else:
        body = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
        fam = 0x11
    body += struct.pack("!HH", sport, dport) + tlv
    return SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def _ask(srv, preamble, path, split=False):
    c = harness.connect(srv)
    try:
        data = preamble + req(path)
        if split:  # a byte at a time through the header
            for i in range(len(preamble)):
                c.send(data[i:i + 1])
                time.sleep(0.002)
            c.send(data[len(preamble):])
        else:
            c.send(data)
        return c.read_response()
    finally:
        c.close()


def test_proxy_protocol_names_the_client_for_the_log_access_rules_and_scripts(ctx):
    srv, cd = _start(_conf(), listen=("127.0.0.1:0 proxy_protocol",))
    try:
        r = _ask(srv, _v1("198.51.100.9"), "/file.txt")
        eq((r.status, r.body), (200, FILE), "v1: a file")
        eq(_ask(srv, _v1("203.0.113.7"), "/closed/file.txt").status, 403,
           "v1: a client the rule denies")
        eq(_ask(srv, _v1("198.51.100.9"), "/closed/file.txt").status, 200,
           "v1: a client the rule allows")
        eq(_ask(srv, _v1("198.51.100.10"), "/cgi-bin/addr.sh").body, b"198.51.100.10\n",
           "v1: the script's REMOTE_ADDR")
        eq(_ask(srv, _v1("2001:db8::77", "2001:db8::1"), "/cgi-bin/addr.sh").body,
           b"2001:db8::77\n", "v1 TCP6: the script's REMOTE_ADDR")
        eq(_ask(srv, _v2("203.0.113.8"), "/closed/file.txt").status, 403, "v2: denied client")
        r = _ask(srv, _v2("198.51.100.11", tlv=b"\x04\x00\x03abc"), "/cgi-bin/addr.sh",
                 split=True)
        eq(r.body, b"198.51.100.11\n", "v2 with a TLV, sent a byte at a time")
        eq(_ask(srv, _v2("2001:db8::78", "2001:db8::1"), "/cgi-bin/addr.sh").body,
           b"2001:db8::78\n", "v2 over IPv6")
        # LOCAL (the proxy's own health check): the connection's peer stays.
        eq(_ask(srv, _v2("", local=True), "/cgi-bin/addr.sh").body, b"127.0.0.1\n", "v2 LOCAL")
        eq(_ask(srv, b"PROXY UNKNOWN\r\n", "/cgi-bin/addr.sh").body, b"127.0.0.1\n",
           "v1 UNKNOWN")
        # Each worker writes its own lines: the file's order is not the requests'.
        addrs = _log_addrs(cd, 10)
        eq(sorted(addrs), sorted(["198.51.100.9", "203.0.113.7", "198.51.100.9", "198.51.100.10",
                                  "2001:db8::77", "203.0.113.8", "198.51.100.11", "2001:db8::78",
                                  "127.0.0.1", "127.0.0.1"]), "access log addresses")
        # Keep-alive after the header: every request on it is the named client's.
        c = harness.connect(srv)
        c.send(_v1("198.51.100.12") + req("/cgi-bin/addr.sh"))
        eq(c.read_response().body, b"198.51.100.12\n", "first request after the header")
        c.send(req("/cgi-bin/addr.sh"))
        eq(c.read_response().body, b"198.51.100.12\n", "second request on the connection")
        c.close()
    finally:
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()
        cd.cleanup()


def test_a_connection_without_a_good_proxy_header_is_closed_unanswered(ctx):
    srv, cd = _start(_conf(), listen=("127.0.0.1:0 proxy_protocol",))
    try:
        for bad in (req("/file.txt"),                                 # no header at all
                    b"PROXY TCP4 198.51.100.9 192.0.2.1 56324\r\n",   # a port missing
                    b"PROXY TCP4 198.51.100.09 192.0.2.1 1 2\r\n",    # a leading zero
                    b"PROXY  TCP4 198.51.100.9 192.0.2.1 1 2\r\n",    # two spaces
                    SIG + b"\x22\x11\x00\x0c" + bytes(12),            # v2, version 2 command 2
                    b"PROXY TCP4 " + b"1" * 200 + b"\r\n"):           # too long
            c = harness.connect(srv)
            c.send(bad + req("/file.txt"))
            data = b""
            try:
                c.sock.settimeout(3)
                while True:
                    d = c.sock.recv(4096)
                    if not d:
                        break
                    data += d
            except (ConnectionResetError, socket.timeout):
                pass
            c.close()
            eq(data, b"", "answer to a bad PROXY header %r" % bad[:40])
        # A header that never comes ends with the header timeout, unanswered too.
        eq(_ask(srv, _v1("198.51.100.9"), "/file.txt").status, 200, "a good one afterwards")
    finally:
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()
        cd.cleanup()


def test_x_forwarded_for_is_taken_from_trusted_proxies_only(ctx):
    conf = _conf('trusted_proxies = ["127.0.0.1", "10.0.0.0/8"];\n')
    srv, cd = _start(conf)
    try:
        def addr(xff):
            return harness.get(srv, "/cgi-bin/addr.sh",
                               headers=[("X-Forwarded-For", v) for v in xff]).body
        eq(addr(["198.51.100.20"]), b"198.51.100.20\n", "one hop from a trusted peer")
        # The right-most untrusted hop: what a client wrote before it is not believed.
        eq(addr(["6.6.6.6, 198.51.100.21, 10.1.2.3"]), b"198.51.100.21\n",
           "right-most untrusted")
        eq(addr(["6.6.6.6", "198.51.100.22"]), b"198.51.100.22\n", "two field lines as one list")
        eq(addr(["[2001:db8::5]:4711"]), b"2001:db8::5\n", "an IPv6 hop with a port")
        eq(addr([]), b"127.0.0.1\n", "no header: the peer")
        r = harness.get(srv, "/closed/file.txt", headers=[("X-Forwarded-For", "203.0.113.9")])
        eq(r.status, 403, "the access rule sees the forwarded client")
        r = harness.get(srv, "/closed/file.txt", headers=[("X-Forwarded-For", "198.51.100.23")])
        eq(r.status, 200, "an allowed forwarded client")
        addrs = _log_addrs(cd, 7)
        eq(sorted(addrs), sorted(["198.51.100.20", "198.51.100.21", "198.51.100.22",
                                  "2001:db8::5", "127.0.0.1", "203.0.113.9", "198.51.100.23"]),
           "access log addresses")
        # Forwarded is not read when X-Forwarded-For is the header.
        eq(harness.get(srv, "/cgi-bin/addr.sh",
                       headers=[("Forwarded", "for=198.51.100.30")]).body, b"127.0.0.1\n",
           "Forwarded ignored")
    finally:
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()
        cd.cleanup()

    # An untrusted peer's header is ignored; Forwarded when it is the header.
    srv, cd = _start(_conf('trusted_proxies = ["10.0.0.0/8"];\n'))
    try:
        eq(harness.get(srv, "/cgi-bin/addr.sh",
                       headers=[("X-Forwarded-For", "198.51.100.40")]).body, b"127.0.0.1\n",
           "X-Forwarded-For from an untrusted peer")
    finally:
        eq(srv.stop(), 0, "exit status")
        srv.cleanup()
        cd.cleanup()
    srv, cd = _start(_conf('trusted_proxies = ["127.0.0.1"];\nreal_ip_header = "Forwarded";\n'))
    try:
        eq(harness.get(srv, "/cgi-bin/addr.sh",
                       headers=[("Forwarded", 'for="[2001:db8::9]:80";proto=https, for=198.51.100.41')]
                       ).body, b"198.51.100.41\n", "Forwarded's right-most for=")
        eq(harness.get(srv, "/cgi-bin/addr.sh",
                       headers=[("X-Forwarded-For", "198.51.100.42")]).body, b"127.0.0.1\n",
           "X-Forwarded-For ignored when Forwarded is the header")
    finally:
        eq(srv.stop(), 0, "exit status")
        srv.cleanup()
        cd.cleanup()


def test_proxy_protocol_and_trusted_proxy_settings_are_checked(ctx):
    for conf, words in (('root = "site";\nlisten = ["127.0.0.1:0 proxy"];\n', ["proxy"]),
                        ('root = "site";\ntrusted_proxies = ["10.0.0.1/8"];\n', ["trusted_proxies"]),
                        ('root = "site";\nreal_ip_header = "X-Real-IP";\n', ["real_ip_header"])):
        cd = harness.ConfDir(FILES)
        try:
            p = harness.run_htd(["--check-config", cd.write_conf(conf)])
            eq(p.returncode, 2, "exit status for %r" % conf)
            err = p.stderr.decode()
            for w in words:
                check(w in err, "%r not in %r" % (w, err))
        finally:
            cd.cleanup()


def test_rate_limits_count_the_forwarded_client(ctx):
    conf = _conf('trusted_proxies = ["127.0.0.1"];\n'
                 'rate_limit = { rate = "1r/m"; key = "addr"; };\n')
    srv, cd = _start(conf)
    try:
        def status(client):
            return harness.get(srv, "/file.txt", headers=[("X-Forwarded-For", client)]).status
        eq(status("198.51.100.50"), 200, "a client's first request")
        eq(status("198.51.100.50"), 429, "its second within the minute")
        eq(status("198.51.100.51"), 200, "another client behind the same proxy")
    finally:
        eq(srv.stop(), 0, "exit status")
        check(srv.sanitizer_report() is None, "sanitizer report")
        srv.cleanup()
        cd.cleanup()
