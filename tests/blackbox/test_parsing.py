# SPDX-License-Identifier: BSD-2-Clause
"""Strict request parsing (RFC 9112): every malformed request line or header
gets 400 with Connection: close and the connection closed after; unknown or
lowercase methods get 501; versions 505 or accepted; limits 414 and 431."""

from harness import (FILE_TXT, check, check_error, check_ok_file, eq, exchange, get)

H = b"Host: x\r\n"


def expect_400_close(ctx, data):
    r, c = exchange(ctx.srv, data)
    try:
        check_error(r, 400)
        eq(r.get("Connection"), "close", "Connection header on 400")
        check(c.at_eof(), "connection not closed after the 400 (pending: %r)" % c.buf[:200])
    finally:
        c.close()
    # The server stays sane for the next client.
    check_ok_file(get(ctx.srv, "/file.txt"), FILE_TXT)


def test_400_double_space_in_request_line(ctx):
    expect_400_close(ctx, b"GET  /file.txt HTTP/1.1\r\n" + H + b"\r\n")


def test_400_missing_target_token(ctx):
    expect_400_close(ctx, b"GET  HTTP/1.1\r\n" + H + b"\r\n")


def test_400_extra_token_in_request_line(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1 extra\r\n" + H + b"\r\n")


def test_400_malformed_version(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.x\r\n" + H + b"\r\n")


def test_400_garbage_request_line(ctx):
    expect_400_close(ctx, b"HELLO\r\n\r\n")


def test_400_header_without_colon(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n")


def test_400_space_before_colon(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\nHost : x\r\n\r\n")


def test_400_space_before_colon_other_header(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"X-Thing : y\r\n\r\n")


def test_400_obs_fold(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"X-A: b\r\n folded\r\n\r\n")


def test_400_bare_cr_in_value(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"X-A: b\rc\r\n\r\n")


def test_400_nul_in_header_value(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"X-A: b\x00c\r\n\r\n")


def test_400_invalid_char_in_header_name(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"Bad[Name]: v\r\n\r\n")


def test_400_control_char_in_header_name(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"X\x01A: v\r\n\r\n")


def test_400_content_length_and_transfer_encoding(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H +
                     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


def test_400_two_differing_content_lengths(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H +
                     b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n")


def test_400_content_length_abc(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n")


def test_400_content_length_negative(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n")


def test_400_content_length_plus_sign(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\n")


def test_400_transfer_encoding_gzip(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\n" + H +
                     b"Transfer-Encoding: gzip\r\n\r\n")


def test_400_missing_host_http11(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\nUser-Agent: t\r\n\r\n")


def test_400_two_host_headers(ctx):
    expect_400_close(ctx, b"GET /file.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")


def test_400_percent_00_in_path(ctx):
    expect_400_close(ctx, b"GET /file.txt%00.html HTTP/1.1\r\n" + H + b"\r\n")


def test_501_unknown_method_brew(ctx):
    r, c = exchange(ctx.srv, b"BREW / HTTP/1.1\r\n" + H + b"\r\n")
    check_error(r, 501)
    c.close()


def test_501_lowercase_get(ctx):
    r, c = exchange(ctx.srv, b"get /file.txt HTTP/1.1\r\n" + H + b"\r\n")
    check_error(r, 501)
    c.close()


def test_414_target_over_8192_bytes(ctx):
    r, c = exchange(ctx.srv, b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\n" + H + b"\r\n")
    check_error(r, 414)
    c.close()
    check_ok_file(get(ctx.srv, "/file.txt"), FILE_TXT)


def test_431_seventy_header_fields(ctx):
    hs = b"".join(b"X-Field-%d: value\r\n" % i for i in range(70))
    r, c = exchange(ctx.srv, b"GET /file.txt HTTP/1.1\r\n" + H + hs + b"\r\n")
    check_error(r, 431)
    c.close()


def test_431_one_header_of_20000_bytes(ctx):
    r, c = exchange(ctx.srv, b"GET /file.txt HTTP/1.1\r\n" + H +
                    b"X-Big: " + b"b" * 20000 + b"\r\n\r\n")
    check_error(r, 431)
    c.close()
    check_ok_file(get(ctx.srv, "/file.txt"), FILE_TXT)


def expect_head_refused(ctx, data, status):
    """A HEAD refused while its head is parsed gets the error's head alone
    (its Content-Length says what a GET would get), then the close."""
    r, c = exchange(ctx.srv, data, method="HEAD")
    try:
        check_error(r, status, method="HEAD")
        eq(r.get("Connection"), "close", "Connection header on %d" % status)
        check(int(r.get("Content-Length")) > 0, "the error's length: %r" % r.head_raw)
        check(c.at_eof(), "bytes after a HEAD's %d: %r" % (status, c.buf[:200]))
    finally:
        c.close()


def test_head_refused_by_the_parser_gets_no_body(ctx):
    expect_head_refused(ctx, b"HEAD /" + b"a" * 8200 + b" HTTP/1.1\r\n" + H + b"\r\n", 414)
    expect_head_refused(ctx, b"HEAD /file.txt HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n", 431)
    expect_head_refused(ctx, b"\r\nHEAD /file.txt HTTP/2.0\r\n" + H + b"\r\n", 505)
    expect_head_refused(ctx, b"HEAD /file.txt HTTP/1.1\r\nBad Name: x\r\n" + H + b"\r\n", 400)
    # and a GET's error keeps its body
    r, c = exchange(ctx.srv, b"GET /file.txt HTTP/2.0\r\n" + H + b"\r\n")
    check_error(r, 505)
    c.close()


def test_505_http_2_0(ctx):
    r, c = exchange(ctx.srv, b"GET /file.txt HTTP/2.0\r\n" + H + b"\r\n")
    check_error(r, 505)
    c.close()


def test_http_1_9_accepted_as_1_1(ctx):
    r, c = exchange(ctx.srv, b"GET /file.txt HTTP/1.9\r\n" + H + b"\r\n")
    check_ok_file(r, FILE_TXT)
    c.close()


def test_absolute_form_target_accepted(ctx):
    r, c = exchange(ctx.srv, b"GET http://localhost/file.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
    check_ok_file(r, FILE_TXT)
    c.close()


def test_header_names_case_insensitive_and_ows(ctx):
    r, c = exchange(ctx.srv, b"GET /file.txt HTTP/1.1\r\nhOsT:x\r\nX-A: \t v \t\r\n\r\n")
    check_ok_file(r, FILE_TXT)
    c.close()
