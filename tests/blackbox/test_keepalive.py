# SPDX-License-Identifier: BSD-2-Clause
"""Connections: keep-alive over 100 requests, pipelining, HTTP/1.0 and 0.9,
Connection: close, trickled requests, request bodies nobody wants (read and
discarded), smuggling attempts (CL+TE, two TE values) and Expect: 100-continue."""

import os
import re
import socket
import time

import harness
from harness import (APP_JS, FILE_TXT, LETTERS, SECRET_TXT, STYLE_CSS, SUB_INDEX, check,
                     check_error, check_ok_file, connect, eq, req)

H = b"Host: x\r\n"


def test_keepalive_100_sequential_requests(ctx):
    files = [("/file.txt", FILE_TXT), ("/letters.txt", LETTERS), ("/style.css", STYLE_CSS)]
    c = connect(ctx.srv)
    for i in range(100):
        path, data = files[i % 3]
        c.send(req(path))
        r = c.read_response()
        check(r.status == 200 and r.body == data,
              "request %d of 100 (%s): status %s, body %r" % (i + 1, path, r.status, r.body[:80]))
        check(r.get("Connection", "").lower() != "close", "server closed after request %d" % (i + 1))
    c.close()


def test_pipelining_10_requests_in_one_write(ctx):
    plan = [("GET", "/file.txt", 200, FILE_TXT),
            ("HEAD", "/file.txt", 200, b""),
            ("GET", "/letters.txt", 200, LETTERS),
            ("GET", "/missing-in-the-middle", 404, None),
            ("GET", "/style.css", 200, STYLE_CSS),
            ("HEAD", "/missing-too", 404, b""),
            ("GET", "/sub/", 200, SUB_INDEX),
            ("GET", "/app.js", 200, APP_JS),
            ("HEAD", "/letters.txt", 200, b""),
            ("GET", "/file.txt", 200, FILE_TXT)]
    c = connect(ctx.srv)
    c.send(b"".join(req(p, m) for m, p, _, _ in plan))
    for i, (m, p, status, body) in enumerate(plan):
        r = c.read_response(m)
        eq(r.status, status, "status of pipelined response %d (%s %s)" % (i + 1, m, p))
        if body is not None:
            eq(r.body, body, "body of pipelined response %d (%s %s)" % (i + 1, m, p))
        if m == "HEAD" and status == 200:
            eq(r.get("Content-Length"), str(len(FILE_TXT if p == "/file.txt" else LETTERS)),
               "HEAD Content-Length")
    c.send(req("/file.txt", headers=[("Connection", "close")]))
    check_ok_file(c.read_response(), FILE_TXT)
    check(c.at_eof(), "connection not closed after Connection: close")
    c.close()


def test_pipelining_300_requests_spanning_reads(ctx):
    """About 12 KB of requests in one write: heads straddle the server's reads."""
    files = [("/file.txt", FILE_TXT), ("/letters.txt", LETTERS), ("/app.js", APP_JS)]
    plan = [files[i % 3] for i in range(300)]
    c = connect(ctx.srv)
    c.send(b"".join(req(p, headers=[("X-Seq", str(i))]) for i, (p, _) in enumerate(plan)))
    for i, (p, data) in enumerate(plan):
        r = c.read_response()
        check(r.status == 200 and r.body == data,
              "pipelined response %d (%s): status %s body %r" % (i + 1, p, r.status, r.body[:60]))
    c.close()


def test_concurrent_connections(ctx):
    conns = [connect(ctx.srv) for _ in range(50)]
    try:
        for i, c in enumerate(conns):
            c.send(req("/file.txt" if i % 2 else "/letters.txt"))
        for i, c in enumerate(conns):
            check_ok_file(c.read_response(), FILE_TXT if i % 2 else LETTERS)
        for c in conns:
            c.send(req("/style.css"))
        for c in conns:
            check_ok_file(c.read_response(), STYLE_CSS)
    finally:
        for c in conns:
            c.close()


def test_request_limit_closes_after_1000(ctx):
    """htd.h: max_requests per keep-alive connection, 0 (the binary's) means 1000."""
    c = connect(ctx.srv)
    c.send(req("/file.txt") * 500)
    for i in range(500):
        eq(c.read_response().status, 200, "status of request %d" % (i + 1))
    c.send(req("/file.txt") * 501)
    last = None
    for i in range(500):
        last = c.read_response()
        eq(last.status, 200, "status of request %d" % (501 + i))
    eq(last.get("Connection", "").lower(), "close", "Connection on the 1000th response")
    check(c.at_eof(), "connection not closed after 1000 requests (more data: %r)" % c.buf[:80])
    c.close()


def test_http10_closes_by_default(ctx):
    c = connect(ctx.srv)
    c.send(b"GET /file.txt HTTP/1.0\r\n\r\n")
    r = c.read_response()
    check_ok_file(r, FILE_TXT)
    check(c.at_eof(), "HTTP/1.0 connection without keep-alive was not closed")
    c.close()


def test_http10_keepalive(ctx):
    c = connect(ctx.srv)
    c.send(b"GET /file.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    r = c.read_response()
    check_ok_file(r, FILE_TXT)
    eq(r.get("Connection", "").lower(), "keep-alive", "Connection on a 1.0 keep-alive response")
    c.send(b"GET /letters.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    check_ok_file(c.read_response(), LETTERS)
    c.send(b"GET /file.txt HTTP/1.0\r\n\r\n")
    check_ok_file(c.read_response(), FILE_TXT)
    check(c.at_eof(), "connection not closed after a 1.0 request without keep-alive")
    c.close()


def test_http11_connection_close(ctx):
    c = connect(ctx.srv)
    c.send(req("/file.txt", headers=[("Connection", "close")]))
    r = c.read_response()
    check_ok_file(r, FILE_TXT)
    eq(r.get("Connection", "").lower(), "close", "Connection")
    check(c.at_eof(), "connection not closed after Connection: close")
    c.close()


def test_http09_one_line_request(ctx):
    c = connect(ctx.srv)
    c.send(b"GET /file.txt\r\n")
    data = c.read_to_eof()
    c.close()
    eq(data, FILE_TXT, "HTTP/0.9 response (raw file bytes, no status line)")


def test_trickled_request_one_byte_per_send(ctx):
    c = connect(ctx.srv, nodelay=True)
    for b in req("/file.txt", headers=[("User-Agent", "trickle"), ("Accept", "*/*")]):
        c.send(bytes([b]))
        time.sleep(0.003)
    check_ok_file(c.read_response(), FILE_TXT)
    c.close()


def test_get_with_content_length_body_discarded(ctx):
    c = connect(ctx.srv)
    c.send(b"GET /file.txt HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\n0123456789"
           + req("/letters.txt"))
    check_ok_file(c.read_response(), FILE_TXT)
    check_ok_file(c.read_response(), LETTERS)
    c.close()


def test_get_with_chunked_body_ext_and_trailer_discarded(ctx):
    c = connect(ctx.srv)
    c.send(b"GET /file.txt HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
           b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
           + req("/letters.txt"))
    check_ok_file(c.read_response(), FILE_TXT)
    check_ok_file(c.read_response(), LETTERS)
    c.close()


def test_get_body_split_across_writes(ctx):
    c = connect(ctx.srv, nodelay=True)
    c.send(b"GET /file.txt HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\n01234")
    time.sleep(0.05)
    c.send(b"56789" + req("/letters.txt"))
    check_ok_file(c.read_response(), FILE_TXT)
    check_ok_file(c.read_response(), LETTERS)
    c.close()


def test_post_with_body_405_then_next_request(ctx):
    c = connect(ctx.srv)
    c.send(b"POST /file.txt HTTP/1.1\r\n" + H + b"Content-Length: 11\r\n\r\nhello world"
           + req("/letters.txt"))
    check_error(c.read_response(), 405)
    check_ok_file(c.read_response(), LETTERS)
    c.close()


def test_post_with_chunked_body_405_then_next_request(ctx):
    c = connect(ctx.srv)
    c.send(b"POST /file.txt HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
           b"b\r\nhello world\r\n0\r\n\r\n" + req("/letters.txt"))
    check_error(c.read_response(), 405)
    check_ok_file(c.read_response(), LETTERS)
    c.close()


STATUS_LINE = re.compile(rb"HTTP/1\.\d \d{3} ")


def expect_single_400_then_eof(ctx, data):
    c = connect(ctx.srv)
    c.send(data)
    raw = c.read_to_eof()
    c.close()
    lines = STATUS_LINE.findall(raw)
    check(raw.startswith(b"HTTP/1.1 400 "), "first response not a 400: %r" % raw[:200])
    eq(len(lines), 1, "number of responses (raw: %r)" % raw[:600])
    check(SECRET_TXT not in raw, "the smuggled request was answered")


def test_smuggling_cl_te_hidden_request_never_answered(ctx):
    expect_single_400_then_eof(
        ctx, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
             b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")


def test_smuggling_te_cl_order_reversed(ctx):
    expect_single_400_then_eof(
        ctx, b"GET /file.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"Content-Length: 5\r\n\r\n0\r\n\r\n"
             b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")


def test_smuggling_two_transfer_encoding_headers(ctx):
    expect_single_400_then_eof(
        ctx, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"
             b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")


def test_smuggling_transfer_encoding_list(ctx):
    expect_single_400_then_eof(
        ctx, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
             b"0\r\n\r\nGET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")


def test_smuggling_differing_content_lengths(ctx):
    expect_single_400_then_eof(
        ctx, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n"
             b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")


def test_expect_100_continue_post_405_no_interim(ctx):
    c = connect(ctx.srv)
    c.send(b"POST /file.txt HTTP/1.1\r\n" + H +
           b"Content-Length: 10\r\nExpect: 100-continue\r\n\r\n")
    r = c.read_response()
    check(r.status != 100, "got 100 Continue for a request that will be refused")
    check_error(r, 405)
    check(c.at_eof(), "connection not closed after refusing an unsent body")
    c.close()


def test_pipelined_batch_then_malformed_request_keeps_earlier_responses(ctx):
    """Responses batched for one write survive a later request's error."""
    c = connect(ctx.srv)
    try:
        c.send(req("/file.txt") * 3 + req("/sub/page.txt") + b"GET / HTTP/7.1\r\nHost: x\r\n\r\n")
        for want in (FILE_TXT, FILE_TXT, FILE_TXT, b"sub page\n"):
            r = c.read_response()
            eq(r.status, 200, "status")
            eq(r.body, want, "body")
        r = c.read_response()
        eq(r.status, 505, "the malformed one")
        check(c.at_eof(), "closed after it")
    finally:
        c.close()


def test_close_arriving_with_the_last_pipelined_bytes_is_seen(ctx):
    """Three pipelined requests in three pieces, the last sent together with
    the client's FIN (shutdown right after it): all three answers, then the
    close, at once, 100 times in a row. A short read does not mean the
    socket is drained when the peer has closed: the FIN is behind the data."""
    import socket
    reqs = [req("/file.txt"), req("/letters.txt"), req("/style.css")]
    for i in range(100):
        c = connect(ctx.srv, nodelay=True)
        whole = b"".join(reqs)
        cut = [len(reqs[0]) - 7, len(reqs[0]) + len(reqs[1]) + 5]
        c.send(whole[:cut[0]])
        c.send(whole[cut[0]:cut[1]])
        c.sock.send(whole[cut[1]:])
        c.sock.shutdown(socket.SHUT_WR)
        for path, data in (("/file.txt", FILE_TXT), ("/letters.txt", LETTERS),
                           ("/style.css", STYLE_CSS)):
            r = c.read_response()
            check(r.status == 200 and r.body == data,
                  "try %d: %s answered %s" % (i + 1, path, r.status))
        check(c.at_eof(0.1), "try %d: the connection was still open 100 ms after the last "
              "answer, though the client had closed its side" % (i + 1))
        c.close()


def test_a_close_htd_chose_lingers_so_later_pipelined_bytes_do_not_reset_answers(ctx):
    """Found by the live fuzzer (tests/live/fuzz.py): a pipelining client
    with a slow reader sends GET of a 256 KiB file and a request htd refuses
    with 400 and a close; the 400 was sent and the socket closed at once, so
    the client's next request, sent before it could know, met a closed
    socket, and the kernel's reset threw away the rest of the file still
    queued for the client. htd now half-closes and drains (RFC 9112 section
    9.6) unless the client itself said the request was its last."""
    data = os.urandom(256 * 1024)
    ctx.root.write("pipelined-256k.bin", data)
    for i in range(5):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.settimeout(10)
        s.connect(ctx.srv.addr)
        c = harness.Conn(s)
        c.send(req("/pipelined-256k.bin") + req("/../secret.txt"))
        time.sleep(0.3)  # htd writes the file into its buffers, answers the 400
        try:
            c.send(req("/file.txt"))
        except OSError:
            pass
        r = c.read_response()
        check(r.status == 200 and r.body == data, "try %d: the file came whole (%d of %d bytes)"
              % (i + 1, len(r.body), len(data)))
        check_error(c.read_response(), 400)
        check(c.at_eof(), "try %d: closed after the 400, the third request unanswered" % (i + 1))
        c.close()


def test_a_malformed_body_found_while_discarding_lingers_so_the_answer_is_not_reset(ctx):
    """Found by the live fuzzer (tests/live/fuzz.py): a GET of a 256 KiB file
    with a chunked body nobody wants is answered at once and its body then
    read and dropped; a bad chunk size there closed the connection at once,
    so the client's next bytes met a closed socket and the kernel's reset
    threw away the rest of the file still queued for a slow reader. htd now
    half-closes and drains, as when it ends a connection on its own."""
    data = os.urandom(256 * 1024)
    ctx.root.write("discarded-256k.bin", data)
    for i in range(5):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.settimeout(10)
        s.connect(ctx.srv.addr)
        c = harness.Conn(s)
        c.send(req("/discarded-256k.bin", headers=[("Transfer-Encoding", "chunked")]) + b"5\r\nhello\r\n")
        time.sleep(0.3)  # htd answers, writes the file into its buffers, drops the body
        try:
            c.send(b"zz\r\n")
            time.sleep(0.05)
            c.send(b"more of a body the client goes on sending\r\n")
        except OSError:
            pass
        r = c.read_response()
        check(r.status == 200 and r.body == data, "try %d: the file came whole (%d of %d bytes)"
              % (i + 1, len(r.body), len(data)))
        check(c.at_eof(), "try %d: closed after the file" % (i + 1))
        c.close()
