# SPDX-License-Identifier: BSD-2-Clause
"""Validators and conditional requests (RFC 9110 section 13): Last-Modified,
strong ETag, If-None-Match / If-Modified-Since -> 304, If-Match /
If-Unmodified-Since -> 412, and the precedence between them."""

import time

from harness import (FILE_TXT, FIXED_MTIME, LETTERS, check, check_error, check_ok_file,
                     connect, eq, get, http_date, req)

LM = http_date(FIXED_MTIME)  # file.txt's mtime, set by the fixtures


def etag(ctx, path="/file.txt"):
    return get(ctx.srv, path).get("ETag")


def expect_304(ctx, headers, method="GET"):
    """304 with no body: a pipelined request after it must parse cleanly."""
    c = connect(ctx.srv)
    c.send(req("/file.txt", method, headers) + req("/letters.txt"))
    r = c.read_response(method)
    eq(r.status, 304, "status (headers sent %r)" % (headers,))
    eq(r.get("Server"), "htd", "Server")
    eq(r.get("ETag"), etag(ctx), "ETag on 304")
    check_ok_file(c.read_response(), LETTERS)
    c.close()
    return r


def test_last_modified_is_file_mtime(ctx):
    eq(get(ctx.srv, "/file.txt").get("Last-Modified"), LM, "Last-Modified")


def test_etag_strong_and_stable(ctx):
    a, b = etag(ctx), etag(ctx)
    check(a.startswith('"') and a.endswith('"'), "ETag not strong: %r" % a)
    eq(b, a, "ETag on a second request")
    check(etag(ctx, "/letters.txt") != a, "two different files share ETag %r" % a)


def test_304_if_none_match_etag(ctx):
    expect_304(ctx, [("If-None-Match", etag(ctx))])


def test_304_if_none_match_star(ctx):
    expect_304(ctx, [("If-None-Match", "*")])


def test_304_if_none_match_in_list(ctx):
    expect_304(ctx, [("If-None-Match", '"nope", %s, "other"' % etag(ctx))])


def test_304_if_none_match_weak_comparison(ctx):
    expect_304(ctx, [("If-None-Match", "W/" + etag(ctx))])


def test_304_if_none_match_on_head(ctx):
    expect_304(ctx, [("If-None-Match", etag(ctx))], method="HEAD")


def test_200_if_none_match_other(ctx):
    check_ok_file(get(ctx.srv, "/file.txt", headers=[("If-None-Match", '"other"')]), FILE_TXT)


def test_304_if_modified_since_equal(ctx):
    expect_304(ctx, [("If-Modified-Since", LM)])


def test_304_if_modified_since_later(ctx):
    expect_304(ctx, [("If-Modified-Since", http_date(FIXED_MTIME + 86400))])


def test_200_if_modified_since_older(ctx):
    r = get(ctx.srv, "/file.txt", headers=[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")])
    check_ok_file(r, FILE_TXT)


def test_200_if_modified_since_invalid_date_ignored(ctx):
    r = get(ctx.srv, "/file.txt", headers=[("If-Modified-Since", "yesterday, maybe")])
    check_ok_file(r, FILE_TXT)


def test_if_none_match_takes_precedence_over_ims(ctx):
    future = http_date(time.time() + 86400 * 365)
    r = get(ctx.srv, "/file.txt", headers=[("If-None-Match", '"other"'),
                                           ("If-Modified-Since", future)])
    check_ok_file(r, FILE_TXT)
    r = get(ctx.srv, "/file.txt", headers=[("If-None-Match", '"other"'),
                                           ("If-Modified-Since", LM)])
    check_ok_file(r, FILE_TXT)


def test_412_if_match_other(ctx):
    check_error(get(ctx.srv, "/file.txt", headers=[("If-Match", '"other"')]), 412)


def test_200_if_match_current_etag(ctx):
    check_ok_file(get(ctx.srv, "/file.txt", headers=[("If-Match", etag(ctx))]), FILE_TXT)


def test_200_if_match_star(ctx):
    check_ok_file(get(ctx.srv, "/file.txt", headers=[("If-Match", "*")]), FILE_TXT)


def test_412_if_match_weak_never_matches(ctx):
    # If-Match uses the strong comparison: a weak tag never matches.
    check_error(get(ctx.srv, "/file.txt", headers=[("If-Match", "W/" + etag(ctx))]), 412)


def test_412_if_unmodified_since_before(ctx):
    r = get(ctx.srv, "/file.txt",
            headers=[("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")])
    check_error(r, 412)


def test_200_if_unmodified_since_equal(ctx):
    check_ok_file(get(ctx.srv, "/file.txt", headers=[("If-Unmodified-Since", LM)]), FILE_TXT)


def test_if_match_takes_precedence_over_ius(ctx):
    r = get(ctx.srv, "/file.txt", headers=[
        ("If-Match", etag(ctx)),
        ("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")])
    check_ok_file(r, FILE_TXT)


def test_etag_changes_when_file_changes(ctx):
    ctx.root.write("changing.txt", b"version one\n")
    a = get(ctx.srv, "/changing.txt")
    check_ok_file(a, b"version one\n")
    time.sleep(0.01)
    ctx.root.write("changing.txt", b"version two, longer\n")
    b = get(ctx.srv, "/changing.txt", headers=[("If-None-Match", a.get("ETag"))])
    check_ok_file(b, b"version two, longer\n")
    check(b.get("ETag") != a.get("ETag"), "ETag did not change with the file")
