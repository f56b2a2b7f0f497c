/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_json.c - json_escape: quotes, backslashes and control bytes escaped,
 * valid UTF-8 kept, ill-formed UTF-8 (overlong, surrogates, truncated, past
 * U+10FFFF, stray continuation bytes) as U+FFFD, and output cut short only
 * between whole escapes and characters.
 */
#include "json.h"
#include "test.h"

#include <string.h>

static int escapes_to(const char *in, size_t n, const char *want)
{
    char out[256];
    size_t len = json_escape(out, sizeof out, in, n);
    return len == strlen(want) && strcmp(out, want) == 0;
}

TEST(quotes_backslashes_and_controls)
{
    CHECK(escapes_to("a\"b\\c", 5, "a\\\"b\\\\c"));
    CHECK(escapes_to("n\nt\t\x01\x1f\x7f", 7, "n\\u000at\\u0009\\u0001\\u001f\\u007f"));
    CHECK(escapes_to("\\u0000", 6, "\\\\u0000"));
    CHECK(escapes_to("", 0, ""));
}

TEST(valid_utf8_kept_ill_formed_replaced)
{
    CHECK(escapes_to("\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9"));
    CHECK(escapes_to("\xf0\x9f\x93\x81", 4, "\xf0\x9f\x93\x81"));
    CHECK(escapes_to("\xff\xfe", 2, "\\ufffd\\ufffd"));
    CHECK(escapes_to("\xc0\xaf", 2, "\\ufffd\\ufffd"));            /* overlong '/' */
    CHECK(escapes_to("\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd")); /* overlong, 3 bytes */
    CHECK(escapes_to("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd")); /* a surrogate */
    CHECK(escapes_to("\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd"));
    CHECK(escapes_to("x\xe2\x82", 3, "x\\ufffd")); /* cut short: one */
    CHECK(escapes_to("\x80z", 2, "\\ufffdz"));
}

TEST(cut_short_between_whole_pieces)
{
    char out[8];
    memset(out, 'X', sizeof out);
    /* "ab" fits, the 6-byte escape does not: nothing after it either */
    size_t len = json_escape(out, 5,
                             "ab\x01"
                             "c",
                             4);
    CHECK(len == 9);
    CHECK(strcmp(out, "ab") == 0);
    len = json_escape(out, 4, "a\xc3\xa9\xc3\xa9", 5);
    CHECK(len == 5);
    CHECK(strcmp(out, "a\xc3\xa9") == 0);
    CHECK(json_escape(out, 0, "abc", 3) == 3);
}

int main(void)
{
    RUN_TESTS();
}
