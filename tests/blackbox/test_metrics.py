# SPDX-License-Identifier: BSD-2-Clause
"""The status endpoint (a rule's `metrics = true;`): responses counted exactly
by vhost and status class over several workers, the duration histogram's
buckets cumulative with _count the responses, the JSON form (Accept:
application/json) agreeing with the text one, bytes in and out to the byte,
connections taken, active and idle, cache hits, a reload counted, the build
info as --version says it, the rule's auth and methods applying, nothing
answered without a metrics rule, and a bad value refused with its
FILE:LINE."""

import json
import re
import signal
import socket
import subprocess
import time

import harness
from harness import (basic, check, config_server, connect, eq, fail, get, req, run_htd,
                     wait_until)

FILES = {"top/index.html": b"top\n", "a/x.txt": b"a file\n", "a/y.txt": b"another\n"}

CONF = '''root = "top";
access_log = "off";
rules = ( { exact = "/metrics"; metrics = true; } );
vhosts = ( { names = "a.test"; root = "a"; } );
'''

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """{(name, ((label, value), ...)): value} of a text exposition, and the
    TYPE of each metric family; fails on a line that is neither a comment
    nor a sample."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = LINE.match(line)
        check(m is not None, "not a sample line: %r" % line)
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def scrape(srv, accept=None, headers=()):
    hs = list(headers) + ([("Accept", accept)] if accept else [])
    r = get(srv, "/metrics", headers=hs)
    eq(r.status, 200, "status of the scrape (body %r)" % r.body[:300])
    return r


def prom(srv, **kw):
    r = scrape(srv, **kw)
    check(r.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
          "Content-Type %r" % r.get("Content-Type"))
    return parse_prometheus(r.body.decode("utf-8"))[0]


def jget(srv, **kw):
    r = scrape(srv, accept="application/json", **kw)
    eq(r.get("Content-Type"), "application/json", "Content-Type of the JSON form")
    try:
        return json.loads(r.body)
    except ValueError as e:
        fail("the JSON form does not parse: %s; body %r" % (e, r.body[:500]))


def requests(s, vhost, cls):
    return s[("htd_http_requests_total", (("class", cls), ("vhost", vhost)))]


def value(s, name):
    return s[(name, ())]


def check_histogram(s, count):
    name = "htd_http_request_duration_seconds"
    buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in s.items()
                      if n == name + "_bucket"), key=lambda b: b[0])
    check(len(buckets) >= 2 and buckets[-1][0] == float("inf"), "buckets up to +Inf: %r" % buckets)
    for (_, a), (_, b) in zip(buckets, buckets[1:]):
        check(a <= b, "buckets not cumulative: %r" % buckets)
    eq(buckets[-1][1], count, "the +Inf bucket")
    eq(value(s, name + "_count"), count, "_count")
    check(value(s, name + "_sum") >= 0, "_sum")
    return buckets


def make_known_requests(srv):
    """7 x 200, 2 x 304 and 3 x 404 on a.test, each on its own connection."""
    r = get(srv, "/x.txt", host="a.test")
    eq(r.status, 200, "a.test /x.txt")
    etag = r.get("ETag")
    check(etag, "an ETag to revalidate with")
    for i in range(6):
        eq(get(srv, "/y.txt" if i % 2 else "/x.txt", host="a.test").status, 200, "a 200")
    for _ in range(2):
        eq(get(srv, "/x.txt", headers=[("If-None-Match", etag)], host="a.test").status, 304,
           "a 304")
    for i in range(3):
        eq(get(srv, "/missing-%d" % i, host="a.test").status, 404, "a 404")


def test_metrics_count_known_requests_by_vhost_and_class_exactly(ctx):
    with config_server(CONF, files=FILES, threads=4) as srv:
        make_known_requests(srv)
        s = prom(srv)
        for cls, n in (("1xx", 0), ("2xx", 7), ("3xx", 2), ("4xx", 3), ("5xx", 0)):
            eq(requests(s, "a.test", cls), n, "a.test %s" % cls)
            eq(requests(s, "_", cls), 0, "the top-level server's %s before any scrape" % cls)
        check_histogram(s, 12)
        # The first scrape is counted once its response is out.
        s = prom(srv)
        eq(requests(s, "_", "2xx"), 1, "the first scrape, counted by the second")
        eq(requests(s, "a.test", "2xx"), 7, "a.test 2xx again")
        check_histogram(s, 13)


def test_metrics_json_parses_and_agrees_with_the_text_form(ctx):
    with config_server(CONF, files=FILES, threads=4) as srv:
        make_known_requests(srv)
        s = prom(srv)
        j = jget(srv)
        # The text scrape is one more 2xx of the top-level server.
        eq(j["requests"]["by_vhost"]["a.test"],
           {"1xx": 0, "2xx": 7, "3xx": 2, "4xx": 3, "5xx": 0}, "a.test in JSON")
        eq(j["requests"]["by_vhost"]["_"]["2xx"], 1, "the text scrape, in JSON")
        eq(j["requests"]["total"], 13, "total")
        eq(sum(j["requests"]["by_class"].values()), 13, "by_class adds up")
        d = j["request_duration_seconds"]
        eq(d["count"], 13, "duration count")
        eq(d["buckets"]["+Inf"], 13, "+Inf bucket")
        les = [b for b in d["buckets"] if b != "+Inf"]
        counts = [d["buckets"][b] for b in les] + [d["buckets"]["+Inf"]]
        eq(les, sorted(les, key=float), "buckets in order")
        eq(counts, sorted(counts), "buckets cumulative")
        names = {"0.005": 0.005, "10": 10.0}
        for le, v in names.items():
            eq(float(le), v, "le %s" % le)
        text_le = {dict(l)["le"]: v for (n, l), v in s.items()
                   if n == "htd_http_request_duration_seconds_bucket"}
        eq(sorted(text_le), sorted(d["buckets"]), "the same buckets in both forms")
        eq(j["connections"]["accepted"], value(s, "htd_connections_accepted_total") + 1,
           "accepted: the text scrape's connection more")
        eq(j["reloads"], 0, "reloads")
        eq(j["scripts_running"], 0, "scripts")
        eq(j["jobs_queued"], 0, "jobs queued")
        check(j["cache"]["hits"] >= 1, "the same files asked again hit the cache: %r" % j["cache"])
        check(j["cache"]["misses"] >= 1, "misses: %r" % j["cache"])


def raw_exchange(addr, data):
    """Sends data on a new connection (which it asks to close), reads to EOF;
    returns the bytes received."""
    s = socket.create_connection(addr, timeout=harness.TIMEOUT)
    try:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def test_metrics_bytes_in_and_out_are_exact(ctx):
    with config_server(CONF, files=FILES, threads=4) as srv:
        sent = received = 0
        for path, host in (("/x.txt", "a.test"), ("/y.txt", "a.test"), ("/nope", "a.test"),
                           ("/", "localhost")):
            data = req(path, host=host, headers=[("Connection", "close")])
            out = raw_exchange(srv.addr, data)
            check(out.startswith(b"HTTP/1.1 "), "a response: %r" % out[:100])
            sent += len(data)
            received += len(out)
        scrape_req = req("/metrics", headers=[("Connection", "close")])
        out = raw_exchange(srv.addr, scrape_req)
        body = out.split(b"\r\n\r\n", 1)[1].decode()
        s, _ = parse_prometheus(body)
        eq(value(s, "htd_received_bytes_total"), sent + len(scrape_req),
           "bytes received: every request, the scrape's included")
        eq(value(s, "htd_sent_bytes_total"), received, "bytes sent: every response before it")
        eq(value(s, "htd_connections_accepted_total"), 5, "connections taken")


def test_metrics_connections_active_idle_and_accepted(ctx):
    with config_server(CONF, files=FILES, threads=2) as srv:
        idle = []
        for _ in range(5):
            c = connect(srv)
            c.send(req("/x.txt", host="a.test"))
            eq(c.read_response().status, 200, "a keep-alive request")
            idle.append(c)
        # Half a request on another: active until it is answered.
        half = connect(srv)
        try:
            half.send(b"GET /x.txt HTTP/1.1\r\nHost: a.test\r\n")
            # The other thread may not have taken the half connection yet
            # when a scrape comes: wait until it has.
            s = wait_until(settled_n(srv, 5, active=2), what="5 idle connections and 2 active")
            # 6 kept open, and one per scrape so far (at least the one above).
            check(value(s, "htd_connections_accepted_total") >= 7,
                  "accepted %r" % value(s, "htd_connections_accepted_total"))
            half.send(b"\r\n")
            eq(half.read_response().status, 200, "the half request, finished")
            s = wait_until(settled_n(srv, 6), what="6 idle connections")
            eq(value(s, "htd_connections_active"), 1, "active: the scrape alone")
            for c in idle:
                c.close()
            half.close()
            s = wait_until(lambda: (lambda s: s if value(s, "htd_connections_idle") == 0
                                    else None)(prom(srv)), what="no idle connection left")
            eq(value(s, "htd_connections_active"), 1, "active once they closed")
        finally:
            for c in idle:
                c.close()
            half.close()


def settled_n(srv, n, active=None):
    def f():
        s = prom(srv)
        return s if value(s, "htd_connections_idle") == n and (
            active is None or value(s, "htd_connections_active") == active) else None
    return f


def test_metrics_duration_runs_from_the_first_byte_of_the_head(ctx):
    with config_server(CONF, files=FILES) as srv:
        c = connect(srv, nodelay=True)
        try:
            c.send(b"GET /x.txt HTTP/1.1\r\n")
            time.sleep(0.3)
            c.send(b"Host: a.test\r\n\r\n")
            eq(c.read_response().status, 200, "the slow request")
        finally:
            c.close()
        s = prom(srv)
        buckets = dict(check_histogram(s, 1))
        eq(buckets[0.25], 0, "not under 0.25 s")
        eq(buckets[0.5], 1, "under 0.5 s")
        d = value(s, "htd_http_request_duration_seconds_sum")
        check(0.29 <= d < 0.5, "_sum %r" % d)


def test_metrics_reload_is_counted(ctx):
    with config_server(CONF, files=FILES) as srv:
        eq(get(srv, "/x.txt", host="a.test").status, 200, "a request before the reload")
        eq(value(prom(srv), "htd_reloads_total"), 0, "reloads at start")
        since = len(srv.stderr())
        srv.send_signal(signal.SIGHUP)
        wait_until(lambda: "htd: reloaded" in srv.stderr()[since:], what="the reload")
        s = prom(srv)
        eq(value(s, "htd_reloads_total"), 1, "reloads after SIGHUP")
        eq(requests(s, "a.test", "2xx"), 1, "a.test's count kept over the reload")
        eq(get(srv, "/x.txt", host="a.test").status, 200, "a request after the reload")
        eq(requests(prom(srv), "a.test", "2xx"), 2, "counted under the same name")
        eq(jget(srv)["reloads"], 1, "reloads in JSON")


def test_metrics_build_info_matches_version(ctx):
    p = subprocess.run([harness.HTD, "--version"], capture_output=True)
    m = re.match(r"htd (\S+) \(commit (\S+)\)", p.stdout.decode())
    check(m is not None, "--version said %r" % p.stdout[:200])
    with config_server(CONF, files=FILES) as srv:
        s = prom(srv)
        key = ("htd_build_info", (("commit", m.group(2)), ("version", m.group(1))))
        eq(s.get(key), 1.0, "htd_build_info for %s %s (samples %r)"
           % (m.group(1), m.group(2), [k for k in s if k[0] == "htd_build_info"]))
        b = jget(srv)["build"]
        eq((b["version"], b["commit"]), (m.group(1), m.group(2)), "build in JSON")


def test_metrics_text_is_the_default_and_json_only_when_preferred(ctx):
    with config_server(CONF, files=FILES) as srv:
        for accept in (None, "*/*", "text/plain", "application/json;q=0.5, text/plain",
                       "text/*, application/json;q=0.9"):
            r = scrape(srv, accept=accept)
            check(r.get("Content-Type", "").startswith("text/plain"),
                  "text for Accept %r: %r" % (accept, r.get("Content-Type")))
            eq(r.get("Cache-Control"), "no-store", "Cache-Control")
            eq(r.get("Vary"), "Accept", "Vary")
        for accept in ("application/json", "application/json, text/plain;q=0.5",
                       "application/*"):
            r = scrape(srv, accept=accept)
            eq(r.get("Content-Type"), "application/json", "JSON for Accept %r" % accept)
            json.loads(r.body)
        _, types = parse_prometheus(scrape(srv).body.decode())
        for name, kind in (("htd_http_requests_total", "counter"),
                           ("htd_http_request_duration_seconds", "histogram"),
                           ("htd_connections_active", "gauge"), ("htd_connections_idle", "gauge"),
                           ("htd_connections_accepted_total", "counter"),
                           ("htd_received_bytes_total", "counter"),
                           ("htd_sent_bytes_total", "counter"),
                           ("htd_cache_hits_total", "counter"),
                           ("htd_cache_misses_total", "counter"), ("htd_jobs_queued", "gauge"),
                           ("htd_scripts_running", "gauge"), ("htd_reloads_total", "counter"),
                           ("htd_build_info", "gauge")):
            eq(types.get(name), kind, "# TYPE of %s" % name)


def test_metrics_methods_get_and_head_only(ctx):
    with config_server(CONF, files=FILES) as srv:
        r = get(srv, "/metrics", method="HEAD")
        eq(r.status, 200, "HEAD")
        eq(r.body, b"", "no body for HEAD")
        r = get(srv, "/metrics", method="POST", headers=[("Content-Length", "0")])
        eq(r.status, 405, "POST")
        eq(r.get("Allow"), "GET, HEAD", "Allow")


def test_metrics_refused_without_the_rules_auth(ctx):
    p = subprocess.run(["openssl", "passwd", "-6", "-salt", "metricsalt", "s3cret"],
                       capture_output=True)
    if p.returncode != 0:
        raise harness.Skip("openssl passwd -6 is not available")
    files = dict(FILES, **{"users": "ops:" + p.stdout.decode().strip() + "\n"})
    conf = CONF.replace('metrics = true;',
                        'metrics = true; auth = { realm = "ops"; htpasswd = "users"; };')
    with config_server(conf, files=files) as srv:
        r = get(srv, "/metrics")
        eq(r.status, 401, "no credentials")
        check(b"htd_" not in r.body, "no counts in the 401: %r" % r.body[:200])
        eq(get(srv, "/metrics", headers=[basic("ops", "wrong")]).status, 401, "a wrong password")
        s = prom(srv, headers=[basic("ops", "s3cret")])
        eq(requests(s, "_", "4xx"), 2, "the refusals are counted like any response")


def test_metrics_off_without_a_metrics_rule(ctx):
    conf = CONF.replace('rules = ( { exact = "/metrics"; metrics = true; } );\n', '')
    with config_server(conf, files=FILES) as srv:
        eq(get(srv, "/metrics").status, 404, "no endpoint")
    conf = CONF.replace('metrics = true;', 'metrics = false;')
    with config_server(conf, files=FILES) as srv:
        eq(get(srv, "/metrics").status, 404, "metrics = false")


def test_metrics_bad_value_names_its_line(ctx):
    cd = harness.ConfDir(FILES)
    try:
        for conf, line, words in (
                ('root = "top";\nrules = (\n  { exact = "/m";\n    metrics = "yes"; }\n);\n', 4,
                 ("metrics", "true or false")),
                ('root = "top";\nrules = ( { exact = "/m"; redirect = "/x";\n'
                 '  metrics = true; } );\n', 3, ("metrics", "redirect"))):
            path = cd.write_conf(conf)
            p = run_htd(["--check-config", path])
            err = p.stderr.decode()
            eq(p.returncode, 2, "exit status (stderr %r)" % err)
            m = re.match(r"^htd: %s:(\d+): (.*)$" % re.escape(path), err.strip())
            check(m is not None, "stderr %r is not 'htd: FILE:LINE: ...'" % err)
            eq(int(m.group(1)), line, "line in %r" % err)
            for w in words:
                check(w in m.group(2), "%r does not mention %r" % (err, w))
    finally:
        cd.cleanup()
