# SPDX-License-Identifier: BSD-2-Clause
"""HTTPS (TLS through OpenSSL): handshakes with TLS 1.2 and 1.3 and none
with 1.0 or 1.1, SNI choosing each vhost's certificate and 421 for a Host
that disagrees with it, ALPN, session tickets resumed, certificates swapped
by SIGHUP while a download goes on under the old one, bad keys and
certificates refused at start and at reload, an 8 MiB file byte-exact by
SSL_write (kernel TLS where the kernel has it), ranges and gzip, the
redirect of plain HTTP to HTTPS and Strict-Transport-Security, CGI's and the
access log's TLS variables, and hostile clients: one that stops
mid-handshake, garbage instead of a ClientHello, plain HTTP on the TLS port.

Certificates are made here with `openssl req` (ECDSA P-256, and one RSA),
self-signed; the clients are Python's ssl module, `openssl s_client` and
curl, over real sockets to 127.0.0.1."""

import atexit
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import harness
from harness import ConfDir, Conn, check, config_server, eq, fail, req, stops_cleanly

_CERTS = None


def _openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, timeout=30)
    if p.returncode != 0:
        fail("openssl %s: %s" % (" ".join(args), p.stderr.decode()[-500:]))
    return p.stdout


def _make_cert(d, name, cn, kind="ec", days=30, extra=()):
    """name.crt and name.key in d, self-signed for cn (and *.cn, unless
    extra names others); the key made readable by its owner only."""
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    alg = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
           else ["-newkey", "rsa:2048"])
    names = () if "-addext" in extra else ("-addext", "subjectAltName=DNS:%s,DNS:*.%s" % (cn, cn))
    _openssl("req", "-x509", *alg, "-nodes", "-keyout", key, "-out", crt, "-days", str(days),
             "-subj", "/CN=" + cn, *names, *extra)
    os.chmod(key, 0o600)
    os.chmod(crt, 0o644)
    return crt, key


def certs():
    """The test certificates, made once: default (localhost), a.test,
    b.test, an RSA one for localhost, and one with a key not its own."""
    global _CERTS
    if _CERTS is None:
        d = os.path.realpath(tempfile.mkdtemp(prefix="htd-tls-certs-"))
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, True)
        c = {"dir": d}
        for name, cn in (("default", "localhost"), ("a", "a.test"), ("b", "b.test"),
                         ("new", "localhost")):
            c[name] = _make_cert(d, name, cn)
        c["rsa"] = _make_cert(d, "rsa", "localhost", kind="rsa")
        _CERTS = c
    return _CERTS


def _fingerprint_file(crt):
    der = ssl.PEM_cert_to_DER_cert(open(crt).read())
    return hashlib.sha256(der).hexdigest()


def _client_ctx(minv=None, maxv=None, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(addr, sni="localhost", ctx=None, session=None):
    s = socket.create_connection(addr, timeout=harness.TIMEOUT)
    try:
        t = (ctx or _client_ctx()).wrap_socket(s, server_hostname=sni, session=session)
    except BaseException:
        s.close()
        raise
    t.settimeout(harness.TIMEOUT)
    return t


def tls_get(addr, path, host="localhost", sni="localhost", ctx=None, headers=None):
    t = tls_connect(addr, sni, ctx)
    c = Conn(t)
    try:
        c.send(req(path, host=host,
                   headers=list((headers or {}).items()) + [("Connection", "close")]))
        return c.read_response()
    finally:
        c.close()


def _peer_fingerprint(t):
    return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


SITE = {"www/index.html": b"<p>top</p>\n", "www/file.txt": b"top file\n",
        "a/which.txt": b"vhost a\n", "b/which.txt": b"vhost b\n",
        "www/page.html": b"<html>" + b"compress me, " * 400 + b"</html>\n"}


def _conf(top_extra="", a_extra="", vhosts=True):
    c = certs()
    text = ('root = "www";\n'
            'tls = { cert = "%s"; key = "%s"; %s };\n' % (c["default"][0], c["default"][1],
                                                          top_extra))
    if vhosts:
        text += ('vhosts = (\n'
                 '  { names = ["a.test"]; root = "a";\n'
                 '    tls = { cert = "%s"; key = "%s"; %s }; },\n'
                 '  { names = ["b.test"]; root = "b";\n'
                 '    tls = { cert = "%s"; key = "%s"; }; }\n'
                 ');\n' % (c["a"][0], c["a"][1], a_extra, c["b"][0], c["b"][1]))
    return text


def tls_server(conf=None, extra=(), files=None, listen=("127.0.0.1:0 tls",), **kw):
    return config_server(conf if conf is not None else _conf(), files=dict(SITE, **(files or {})),
                         extra=extra, listen=listen, **kw)


# --------------------------------------------------------------------------
# handshakes

def test_tls12_and_tls13_handshakes_serve_a_file(ctx):
    with tls_server() as srv:
        for v, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            t = tls_connect(srv.addr, ctx=_client_ctx(v, v))
            eq(t.version(), name, "protocol")
            c = Conn(t)
            for i in range(3):  # keep-alive over one session
                c.send(req("/file.txt"))
                r = c.read_response()
                eq((r.status, r.body), (200, b"top file\n"), "%s request %d" % (name, i))
            c.close()
        check("TLS: kernel TLS" in srv.stderr(), "no note on the path of file bodies: %r"
              % srv.stderr()[-500:])


def test_tls10_and_tls11_are_refused(ctx):
    with tls_server() as srv:
        for flag in ("-tls1", "-tls1_1"):
            p = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % srv.addr, flag,
                                "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "localhost"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            out = p.stdout.decode("latin-1") + p.stderr.decode("latin-1")
            check(p.returncode != 0 or "Cipher is (NONE)" in out,
                  "openssl s_client %s made a session: %r" % (flag, out[-800:]))
            check("alert protocol version" in out, "no protocol_version alert for %s: %r"
                  % (flag, out[-800:]))
        eq(tls_get(srv.addr, "/file.txt").status, 200, "a TLS 1.3 client after them")


def test_ecdsa_and_rsa_certificates_for_the_same_names(ctx):
    c = certs()
    conf = ('root = "www";\ntls = { cert = ["%s", "%s"]; key = ["%s", "%s"]; };\n'
            % (c["default"][0], c["rsa"][0], c["default"][1], c["rsa"][1]))
    with tls_server(conf) as srv:
        ec = _client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        ec.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        rsa = _client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        rsa.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
        for cctx, want in ((ec, c["default"][0]), (rsa, c["rsa"][0])):
            t = tls_connect(srv.addr, ctx=cctx)
            eq(_peer_fingerprint(t), _fingerprint_file(want), "the certificate for %s"
               % t.cipher()[0])
            t.close()


def test_alpn_agrees_http11_and_none_for_h2_alone(ctx):
    with tls_server() as srv:
        t = tls_connect(srv.addr, ctx=_client_ctx(alpn=["h2", "http/1.1"]))
        eq(t.selected_alpn_protocol(), "http/1.1", "ALPN with h2 and http/1.1 offered")
        t.close()
        t = tls_connect(srv.addr, ctx=_client_ctx(alpn=["h2"]))
        eq(t.selected_alpn_protocol(), None, "ALPN with h2 alone offered")
        c = Conn(t)
        c.send(req("/file.txt", headers=[("Connection", "close")]))
        eq(c.read_response().status, 200, "HTTP/1.1 anyway")
        c.close()


# --------------------------------------------------------------------------
# SNI and 421

def test_sni_chooses_each_vhosts_certificate_and_the_default_for_others(ctx):
    c = certs()
    with tls_server() as srv:
        for sni, want in (("a.test", "a"), ("b.test", "b"), ("x.a.test", "default"),
                          ("unknown.test", "default"), (None, "default")):
            t = tls_connect(srv.addr, sni=sni)
            eq(_peer_fingerprint(t), _fingerprint_file(c[want][0]),
               "certificate for SNI %r" % sni)
            t.close()
        for sni, body in (("a.test", b"vhost a\n"), ("b.test", b"vhost b\n")):
            r = tls_get(srv.addr, "/which.txt", host=sni, sni=sni)
            eq((r.status, r.body), (200, body), "the vhost of %s" % sni)


def test_host_other_than_the_sni_name_gets_421(ctx):
    with tls_server() as srv:
        r = tls_get(srv.addr, "/which.txt", host="b.test", sni="a.test")
        eq(r.status, 421, "Host b.test on a connection made for a.test")
        r = tls_get(srv.addr, "/which.txt", host="a.test:443", sni="a.test")
        eq(r.status, 200, "the same host with a port")
        r = tls_get(srv.addr, "/file.txt", host="localhost", sni=None)
        eq(r.status, 200, "no SNI: no check")
        # On one keep-alive connection: the 421 leaves it usable.
        t = tls_connect(srv.addr, sni="a.test")
        k = Conn(t)
        k.send(req("/which.txt", host="b.test") + req("/which.txt", host="a.test"))
        eq(k.read_response().status, 421, "first, pipelined")
        eq(k.read_response().body, b"vhost a\n", "second, pipelined")
        k.close()


# --------------------------------------------------------------------------
# resumption

def test_session_tickets_resume_tls12_and_tls13(ctx):
    with tls_server() as srv:
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            cctx = _client_ctx(v, v)
            t = tls_connect(srv.addr, ctx=cctx)
            c = Conn(t)
            c.send(req("/file.txt"))
            eq(c.read_response().status, 200, "first")
            sess = t.session  # TLS 1.3: the ticket came after the handshake
            check(not t.session_reused, "the first handshake is full")
            c.close()
            check(sess is not None and sess.has_ticket, "%s: no ticket" % v)
            reused = 0
            for _ in range(5):
                t = tls_connect(srv.addr, ctx=cctx, session=sess)
                reused += t.session_reused
                c = Conn(t)
                c.send(req("/file.txt", headers=[("Connection", "close")]))
                eq(c.read_response().status, 200, "resumed request")
                c.close()
            eq(reused, 5, "%s: resumed handshakes of 5" % v)
        # TLS 1.3 tickets are used once, as browsers do: each resumption
        # brings a new ticket, so a chain of them resumes every time.
        cctx = _client_ctx(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
        sess, reused = None, 0
        for i in range(6):
            t = tls_connect(srv.addr, ctx=cctx, session=sess)
            reused += t.session_reused
            c = Conn(t)
            c.send(req("/file.txt", headers=[("Connection", "close")]))
            eq(c.read_response().status, 200, "chained %d" % i)
            check(t.session is not None and t.session.has_ticket and
                  (sess is None or t.session.id != sess.id),
                  "a new ticket after handshake %d" % i)
            sess = t.session
            c.close()
        eq(reused, 5, "each ticket used once, every connection after the first resumed")


def test_ticket_keys_rotate_and_the_previous_still_resumes(ctx):
    with tls_server(_conf(top_extra="ticket_rotate = 1;", vhosts=False)) as srv:
        cctx = _client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
        t = tls_connect(srv.addr, ctx=cctx)
        sess = t.session
        t.close()
        time.sleep(1.3)  # rotated once: the key is the previous one
        t = tls_connect(srv.addr, ctx=cctx, session=sess)
        check(t.session_reused, "a ticket of the previous key resumes")
        t.close()
        time.sleep(2.2)  # two rotations on: retired
        t = tls_connect(srv.addr, ctx=cctx, session=sess)
        check(not t.session_reused, "a ticket of a retired key resumed")
        t.close()


# --------------------------------------------------------------------------
# certificates: reload, validation

def test_certificate_swapped_by_sighup_while_a_download_goes_on(ctx):
    c = certs()
    cd = ConfDir(SITE)
    try:
        cd.write("www/big.bin", os.urandom(8 << 20))
        want = hashlib.sha256(cd.read("www/big.bin")).hexdigest()
        shutil.copy(c["default"][0], cd.p("site.crt"))
        shutil.copy(c["default"][1], cd.p("site.key"))
        os.chmod(cd.p("site.key"), 0o600)
        conf = 'root = "www";\ntls = { cert = "site.crt"; key = "site.key"; };\n'
        with config_server(conf, confdir=cd, listen=("127.0.0.1:0 tls",)) as srv:
            t = tls_connect(srv.addr)
            eq(_peer_fingerprint(t), _fingerprint_file(c["default"][0]), "before")
            t.sendall(req("/big.bin", headers=[("Connection", "close")]))
            first = t.recv(65536)  # the download has begun
            check(first.startswith(b"HTTP/1.1 200"), "download begun: %r" % first[:100])
            shutil.copy(c["new"][0], cd.p("site.crt.new"))
            shutil.copy(c["new"][1], cd.p("site.key.new"))
            os.chmod(cd.p("site.key.new"), 0o600)
            os.replace(cd.p("site.key.new"), cd.p("site.key"))
            os.replace(cd.p("site.crt.new"), cd.p("site.crt"))
            since = len(srv.stderr())
            srv.send_signal(signal.SIGHUP)
            harness.wait_until(lambda: "reloaded" in srv.stderr()[since:], what="the reload")
            t2 = tls_connect(srv.addr)
            eq(_peer_fingerprint(t2), _fingerprint_file(c["new"][0]), "a new connection after")
            t2.close()
            data = first
            while True:
                d = t.recv(1 << 20)
                if not d:
                    break
                data += d
            t.close()
            head, _, body = data.partition(b"\r\n\r\n")
            eq(hashlib.sha256(body).hexdigest(), want, "the download under the old certificate")
    finally:
        cd.cleanup()


def _refused_start(conf, words, files=None):
    cd = ConfDir(dict(SITE, **(files or {})))
    try:
        path = cd.write_conf(conf)
        p = harness.run_htd(["--config", path, "--listen", "127.0.0.1:0 tls"])
        err = p.stderr.decode("utf-8", "replace")
        eq(p.returncode, 2, "exit status (stderr %r)" % err[:500])
        m = re.match(r"^htd: %s:(\d+): (.*)$" % re.escape(path), err.strip())
        check(m is not None, "stderr %r names no %s:LINE" % (err, path))
        for w in words:
            check(w in m.group(2), "stderr %r does not say %r" % (err, w))
        return int(m.group(1))
    finally:
        cd.cleanup()


def test_bad_keys_and_certificates_are_refused_at_start(ctx):
    c = certs()
    d = c["dir"]
    mismatch = 'root = "www";\n\ntls = { cert = "%s";\n key = "%s"; };\n' % (c["a"][0], c["b"][1])
    eq(_refused_start(mismatch, ["does not match"]), 3, "the line of a mismatched key")
    loose = os.path.join(d, "loose.key")
    shutil.copy(c["a"][1], loose)
    os.chmod(loose, 0o644)
    eq(_refused_start('root = "www";\ntls = { cert = "%s"; key = "%s"; };\n' % (c["a"][0], loose),
                      ["may be read", "key_readable"]), 2, "a key anyone may read")
    cd = ConfDir(SITE)
    try:  # allowed when asked for
        p = harness.run_htd(["--check-config", cd.write_conf(
            'root = "www";\ntls = { cert = "%s"; key = "%s"; key_readable = true; };\n'
            % (c["a"][0], loose))])
        eq(p.returncode, 0, "key_readable = true: %r" % p.stderr[-300:])
    finally:
        cd.cleanup()
    old_crt, old_key = _expired_cert(d)
    _refused_start('root = "www";\ntls = { cert = "%s"; key = "%s"; };\n' % (old_crt, old_key),
                   ["has expired"])
    _refused_start('root = "www";\ntls = { cert = "%s"; key = "%s"; };\n'
                   % (os.path.join(d, "missing.crt"), c["a"][1]), ["missing.crt"])
    cd = ConfDir(SITE)
    try:
        p = harness.run_htd(["--check-config", cd.write_conf(
            'root = "www";\nlisten = ["127.0.0.1:0 tls"];\n')])
        eq(p.returncode, 2, "--check-config of a TLS listener without a certificate")
        check(b"needs a certificate" in p.stderr, "stderr: %r" % p.stderr)
    finally:
        cd.cleanup()
    p = harness.run_htd(["--root", ".", "--tls-listen", "127.0.0.1:0"])
    eq(p.returncode, 2, "a TLS listener without a certificate")
    check(b"needs a certificate" in p.stderr, "stderr: %r" % p.stderr)
    p = harness.run_htd(["--root", ".", "--tls-listen", "127.0.0.1:0", "--cert", c["a"][0]])
    eq(p.returncode, 2, "--cert without --key")


def _expired_cert(d):
    """A certificate valid for one day of 2020, signed by itself with
    `openssl ca` (req cannot date one in the past)."""
    ca = os.path.join(d, "ca")
    os.makedirs(ca, exist_ok=True)
    with open(os.path.join(ca, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                "serial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n")
    open(os.path.join(ca, "index.txt"), "w").close()
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("01\n")
    key, csr, crt = (os.path.join(ca, n) for n in ("old.key", "old.csr", "old.crt"))
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    p = subprocess.run(["openssl", "ca", "-config", "ca.cnf", "-selfsign", "-keyfile", key,
                        "-in", csr, "-out", crt, "-startdate", "20200101000000Z", "-enddate",
                        "20200102000000Z", "-batch"], cwd=ca, capture_output=True, timeout=30)
    if p.returncode != 0:
        fail("openssl ca: %r" % p.stderr[-500:])
    os.chmod(key, 0o600)
    return crt, key


def test_a_reload_with_a_bad_key_keeps_the_old_certificates(ctx):
    c = certs()
    cd = ConfDir(SITE)
    try:
        conf = 'root = "www";\ntls = { cert = "%s"; key = "%s"; };\n'
        with config_server(conf % c["default"], confdir=cd, listen=("127.0.0.1:0 tls",)) as srv:
            cd.write_conf(conf % (c["default"][0], c["b"][1]))
            since = len(srv.stderr())
            srv.send_signal(signal.SIGHUP)
            m = harness.wait_until(lambda: re.search(r"^%shtd: reload failed: (.*)$" % harness.ERRLOG_PREFIX,
                                                     srv.stderr()[since:], re.M),
                                   what="the failed reload")
            check(re.match(r"^%s:2: .*does not match" % re.escape(cd.conf), m.group(1)),
                  "reload failure %r" % m.group(0))
            t = tls_connect(srv.addr)
            eq(_peer_fingerprint(t), _fingerprint_file(c["default"][0]), "the old certificate")
            c2 = Conn(t)
            c2.send(req("/file.txt", headers=[("Connection", "close")]))
            eq(c2.read_response().status, 200, "still serving")
            c2.close()
    finally:
        cd.cleanup()


def test_tls_settings_are_checked(ctx):
    c = certs()
    base = 'root = "www";\ntls = { cert = "%s"; key = "%s"; ' % c["a"]
    for extra, words in (('ktls = 1;', ["ktls must be true or false"]),
                         ('bogus = 1;', ["unknown setting 'bogus'"]),
                         ('redirect = 302;', ["301 or 308"]),
                         ('ciphers = "NOPE-NOTHING";', ["cipher"])):
        cd = ConfDir(SITE)
        try:
            p = harness.run_htd(["--check-config", cd.write_conf(base + extra + " };\n")])
            err = p.stderr.decode()
            eq(p.returncode, 2, "%s: exit status (%r)" % (extra, err))
            for w in words:
                check(w in err, "%s: stderr %r does not say %r" % (extra, err, w))
            check(re.match(r"^htd: %s:2: " % re.escape(cd.conf), err), "no FILE:LINE: %r" % err)
        finally:
            cd.cleanup()


# --------------------------------------------------------------------------
# bodies

def _ktls_available():
    try:
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            return "tls" in f.read().split()
    except OSError:
        return False


def _big_over_tls(extra, conf_extra=""):
    files = {"www/big.bin": os.urandom(8 << 20)}
    want = hashlib.sha256(files["www/big.bin"]).hexdigest()
    with tls_server(_conf(top_extra=conf_extra, vhosts=False), extra=extra, files=files) as srv:
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            r = tls_get(srv.addr, "/big.bin", ctx=_client_ctx(v, v))
            eq(r.status, 200, "status")
            eq(len(r.body), 8 << 20, "length")
            eq(hashlib.sha256(r.body).hexdigest(), want, "the 8 MiB body over %s" % v)
        # curl too, and a slow reader, so that writes meet a full socket
        p = subprocess.run(["curl", "-sk", "--limit-rate", "8M", "https://localhost:%d/big.bin"
                            % srv.addr[1], "--resolve", "localhost:%d:127.0.0.1" % srv.addr[1]],
                           capture_output=True, timeout=30)
        eq(hashlib.sha256(p.stdout).hexdigest(), want, "curl's copy")
        return srv.stderr()


def test_8mib_file_byte_exact_with_ssl_write_forced(ctx):
    err = _big_over_tls(["--no-ktls"])
    check("TLS: kernel TLS unavailable (turned off by the ktls setting), using SSL_write" in err,
          "the log's note: %r" % err[-400:])


def test_8mib_file_byte_exact_by_the_default_path(ctx):
    err = _big_over_tls([])
    if _ktls_available():
        check("TLS: kernel TLS in use" in err, "kTLS expected: %r" % err[-400:])
    else:
        check("kernel TLS unavailable (the kernel has no tls module)" in err, "note: %r"
              % err[-400:])


def test_8mib_file_byte_exact_through_kernel_tls(ctx):
    if not _ktls_available():
        raise harness.Skip("the kernel has no tls module (/proc/sys/net/ipv4/tcp_available_ulp "
                           "lacks tls): kernel TLS cannot run here")
    err = _big_over_tls([])
    check("TLS: kernel TLS in use" in err, "kTLS not used: %r" % err[-400:])


def test_ranges_and_gzip_over_tls(ctx):
    files = {"www/letters.txt": harness.LETTERS}
    with tls_server(_conf(vhosts=False), extra=["--gzip"], files=files) as srv:
        r = tls_get(srv.addr, "/letters.txt", headers={"Range": "bytes=2-5"})
        eq((r.status, r.body), (206, harness.LETTERS[2:6]), "a range")
        r = tls_get(srv.addr, "/letters.txt", headers={"Range": "bytes=0-1,-2"})
        eq(r.status, 206, "two ranges")
        check(b"ab" in r.body and harness.LETTERS[-2:] in r.body, "multipart body %r" % r.body)
        r = tls_get(srv.addr, "/page.html", headers={"Accept-Encoding": "gzip"})
        eq(r.get("Content-Encoding"), "gzip", "gzip")
        eq(gzip.decompress(r.body), SITE["www/page.html"], "the decompressed page")


def test_uploads_and_pipelining_over_tls(ctx):
    with tls_server(_conf(vhosts=False), extra=["--writable", "/up/"]) as srv:
        body = os.urandom(3 << 20)
        t = tls_connect(srv.addr)
        c = Conn(t)
        c.send(b"PUT /up/x.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
               % len(body) + body)
        eq(c.read_response().status, 201, "a 3 MiB PUT")
        c.send(req("/up/x.bin") * 3)
        for i in range(3):
            r = c.read_response()
            eq((r.status, r.body == body), (200, True), "pipelined GET %d" % i)
        c.close()


def test_a_bad_request_and_an_http10_one_end_with_close_notify(ctx):
    with tls_server(_conf(vhosts=False)) as srv:
        for raw, status in ((b"GET /file.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                            (b"GET /file.txt HTTP/1.0\r\n\r\n", 200)):
            t = tls_connect(srv.addr)
            k = Conn(t)
            k.send(raw)
            eq(k.read_response().status, status, "the answer to %r" % raw[:30])
            # The end comes as the peer's close_notify (Python reads it as b"").
            check(k.at_eof(5), "no end after %r" % raw[:30])
            k.close()
        eq(tls_get(srv.addr, "/file.txt").status, 200, "the server goes on")


# --------------------------------------------------------------------------
# HTTPS-only sites, scripts, logs

def test_plain_http_is_redirected_to_https_and_hsts_is_sent_over_tls(ctx):
    conf = _conf(top_extra='redirect = 308; port = 8443; hsts = "max-age=63072000";',
                 a_extra="redirect = 301;")
    with tls_server(conf, listen=("127.0.0.1:0 tls", "127.0.0.1:0")) as srv:
        plain = srv.addrs[1]
        c = harness.connect_addr(plain)
        c.send(req("/file.txt?x=1", headers=[("Connection", "close")]))
        r = c.read_response()
        c.close()
        eq((r.status, r.get("Location")), (308, "https://localhost:8443/file.txt?x=1"),
           "the top-level redirect")
        c = harness.connect_addr(plain)
        c.send(req("/which.txt", host="a.test:8080", headers=[("Connection", "close")]))
        r = c.read_response()
        c.close()
        eq((r.status, r.get("Location")), (301, "https://a.test/which.txt"), "vhost a's")
        check(r.get("Strict-Transport-Security") is None, "no HSTS over plain HTTP")
        r = tls_get(srv.addr, "/file.txt")
        eq((r.status, r.get("Strict-Transport-Security")), (200, "max-age=63072000"),
           "HSTS over TLS")
        r = tls_get(srv.addr, "/which.txt", host="b.test", sni="b.test")
        eq((r.status, r.get("Strict-Transport-Security")), (200, None), "b asks for none")


def test_cgi_gets_https_variables_and_the_log_the_protocol_and_cipher(ctx):
    script = b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n"
    conf = (_conf(vhosts=False) + 'cgi = ["/cgi-bin/"];\naccess_log = "access.log";\n'
            'log_format = "$scheme $ssl_protocol $ssl_cipher $ssl_server_name $status";\n')
    with tls_server(conf, files={"www/cgi-bin/env.sh": b""},
                    listen=("127.0.0.1:0 tls", "127.0.0.1:0")) as srv:
        srv.confdir.write("www/cgi-bin/env.sh", script, 0o755)
        r = tls_get(srv.addr, "/cgi-bin/env.sh", ctx=_client_ctx(ssl.TLSVersion.TLSv1_3))
        eq(r.status, 200, "the script")
        env = dict(l.split("=", 1) for l in r.body.decode().splitlines() if "=" in l)
        eq(env.get("HTTPS"), "on", "HTTPS")
        eq(env.get("SSL_PROTOCOL"), "TLSv1.3", "SSL_PROTOCOL")
        check(env.get("SSL_CIPHER", "").startswith("TLS_"), "SSL_CIPHER %r" % env.get("SSL_CIPHER"))
        eq(env.get("SSL_TLS_SNI"), "localhost", "SSL_TLS_SNI")
        c = harness.connect_addr(srv.addrs[1])
        c.send(req("/cgi-bin/env.sh", headers=[("Connection", "close")]))
        r = c.read_response()
        c.close()
        check(b"HTTPS=" not in r.body and b"SSL_" not in r.body, "TLS variables over plain HTTP")
        srv.stop()
        # Each worker writes its own lines: in either order.
        lines = sorted(srv.confdir.read("access.log").decode().splitlines())
        eq(len(lines), 2, "log lines %r" % lines)
        eq(lines[0], "http - - - 200", "the plain request's line")
        check(re.match(r"^https TLSv1\.3 TLS_\S+ localhost 200$", lines[1]), "log %r" % lines)


def _echo_upstream():
    """A one-thread upstream: each request's head and body echoed back as
    JSON; its listening socket."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            f = c.makefile("rb")
            try:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    hd = {}
                    while True:
                        h = f.readline()
                        if h in (b"\r\n", b""):
                            break
                        k, _, v = h.decode().partition(":")
                        hd[k.lower()] = v.strip()
                    body = f.read(int(hd.get("content-length", "0")))
                    doc = json.dumps({"headers": hd, "sha": hashlib.sha256(body).hexdigest()})
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(doc), doc.encode()))
            except OSError:
                pass
            finally:
                c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls


def test_proxy_and_script_bodies_over_tls(ctx):
    up = _echo_upstream()
    script = (b"#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\n"
              b"exec cat\n")
    conf = (_conf(vhosts=False) + 'cgi = ["/cgi-bin/"];\n'
            'upstreams = ( { name = "app"; servers = ["127.0.0.1:%d"]; } );\n'
            'rules = ( { prefix = "/app/"; proxy = "app"; } );\n' % up.getsockname()[1])
    try:
        with tls_server(conf, files={"www/cgi-bin/cat.sh": b""}) as srv:
            srv.confdir.write("www/cgi-bin/cat.sh", script, 0o755)
            body = os.urandom(1 << 20)
            t = tls_connect(srv.addr)
            c = Conn(t)
            c.send(b"POST /app/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
                   % len(body) + body)
            r = c.read_response()
            doc = json.loads(r.body)
            eq((r.status, doc["sha"]), (200, hashlib.sha256(body).hexdigest()),
               "1 MiB through the proxy over TLS")
            eq(doc["headers"]["x-forwarded-proto"], "https", "X-Forwarded-Proto")
            check(";proto=https;" in doc["headers"]["forwarded"], "Forwarded: %r" % doc)
            c.send(b"POST /cgi-bin/cat.sh HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body) + body)
            r = c.read_response()
            eq((r.status, r.body == body), (200, True), "1 MiB through a script over TLS")
            c.close()
    finally:
        up.close()


# --------------------------------------------------------------------------
# hostile clients

def _closed_within(s, seconds):
    s.settimeout(seconds)
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        if time.monotonic() - t0 >= seconds:
            return False
    return True


def test_a_client_stopping_mid_handshake_is_closed_by_the_header_timeout(ctx):
    with tls_server(_conf(vhosts=False), extra=["--header-timeout", "1"]) as srv:
        hello = _client_hello()
        socks = []
        for _ in range(10):
            s = socket.create_connection(srv.addr, timeout=harness.TIMEOUT)
            s.sendall(hello[:len(hello) // 2])  # half a ClientHello, then nothing
            socks.append(s)
        t0 = time.monotonic()
        for s in socks:
            check(_closed_within(s, 5), "a half handshake not closed within 5 s")
            s.close()
        check(time.monotonic() - t0 < 5, "took too long")
        eq(tls_get(srv.addr, "/file.txt").status, 200, "the server goes on")


def _client_hello():
    """The bytes of a real ClientHello, from Python's ssl in memory."""
    cctx = _client_ctx()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = cctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def test_a_handshake_flight_larger_than_the_socket_takes_waits_for_room(ctx):
    """A certificate chain of about 70 KiB to a client with a 2 KiB receive
    buffer that reads nothing for a while: the server's handshake write
    fills the socket inside a read (OpenSSL's WANT_WRITE), and the
    connection must wait for output room, not input, to go on."""
    c = certs()
    d = c["dir"]
    chain = os.path.join(d, "chain.pem")
    if not os.path.exists(chain):
        sans = ",".join("DNS:host%04d.example.test" % i for i in range(3000))
        big, _ = _make_cert(d, "big", "big.test", extra=("-addext", "subjectAltName=" + sans))
        with open(chain, "wb") as f:
            f.write(open(c["default"][0], "rb").read() + open(big, "rb").read())
    conf = 'root = "www";\ntls = { cert = "%s"; key = "%s"; };\n' % (chain, c["default"][1])
    with tls_server(conf, extra=["--header-timeout", "5"]) as srv:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.settimeout(harness.TIMEOUT)
        s.connect(srv.addr)
        t = _client_ctx().wrap_socket(s, server_hostname="localhost",
                                      do_handshake_on_connect=False)
        t.setblocking(False)
        try:
            t.do_handshake()  # the ClientHello goes; the answer fills the window
        except ssl.SSLWantReadError:
            pass
        time.sleep(0.5)
        t.setblocking(True)
        t.settimeout(harness.TIMEOUT)
        t0 = time.monotonic()
        t.do_handshake()
        check(time.monotonic() - t0 < 2, "the handshake stalled (%.1f s)" % (time.monotonic() - t0))
        k = Conn(t)
        k.send(req("/file.txt", headers=[("Connection", "close")]))
        eq(k.read_response().body, b"top file\n", "the file after it")
        k.close()


def test_garbage_instead_of_a_client_hello_closes_the_connection(ctx):
    with tls_server(_conf(vhosts=False)) as srv:
        for junk in (os.urandom(300), b"\x16\x03\x01\x00\x05hello" + os.urandom(50),
                     b"\x16\x03\x01\xff\xff" + b"\x00" * 2000):
            s = socket.create_connection(srv.addr, timeout=harness.TIMEOUT)
            s.sendall(junk)
            check(_closed_within(s, 5), "garbage %r: not closed" % junk[:10])
            s.close()
        eq(tls_get(srv.addr, "/file.txt").status, 200, "the server goes on")


def test_plain_http_to_the_tls_port_gets_a_plain_400(ctx):
    with tls_server(_conf(vhosts=False)) as srv:
        c = harness.connect_addr(srv.addr)
        c.send(req("/file.txt"))
        r = c.read_response()
        eq(r.status, 400, "status")
        check(b"HTTPS" in r.body, "body %r" % r.body)
        check(c.at_eof(5), "closed after it")
        c.close()


def test_many_clients_handshaking_at_once(ctx):
    with tls_server(_conf(vhosts=False)) as srv:
        errors = []

        def client(i):
            try:
                for _ in range(10):
                    r = tls_get(srv.addr, "/file.txt")
                    if r.status != 200:
                        errors.append(r.status)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
        ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        eq(errors, [], "errors of 160 handshakes from 16 threads")
