/*
 * test_fields.c - unit tests of src/http/fields.c.
 *
 * The byte classes are checked against the grammar of RFC 9110 written out a
 * second way, byte by byte, so that a typo in the table shows.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fields.h"
#include "test.h"

static int rfc_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int rfc_value(int c)
{
    return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7E) || c >= 0x80;
}

TEST(classes_match_the_rfc_grammar)
{
    for (int c = 0; c < 256; c++) {
        CHECK(!!(htd_chars[c] & HTD_C_TCHAR) == !!rfc_tchar(c));
        CHECK(!!(htd_chars[c] & HTD_C_VALUE) == rfc_value(c));
        CHECK(!!(htd_chars[c] & HTD_C_TARGET) == (c >= 0x21 && c <= 0x7E));
        CHECK(!!(htd_chars[c] & HTD_C_QDTEXT) == (rfc_value(c) && c != '"' && c != '\\'));
        int host = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c && strchr("-._~!$&'()*+,;=:[]%", c));
        CHECK(!!(htd_chars[c] & HTD_C_HOST) == host);
        CHECK(!!htd_is_tchar((unsigned char)c) == !!rfc_tchar(c));
    }
    CHECK(htd_chars['\n'] == 0 && htd_chars['\r'] == 0 && htd_chars[0] == 0);
}

TEST(token_is_one_or_more_tchar)
{
    CHECK(htd_is_token("Content-Type", 12));
    CHECK(htd_is_token("x", 1));
    CHECK(htd_is_token("!#$%&'*+-.^_`|~09azAZ", 21));
    CHECK(!htd_is_token("", 0));
    CHECK(!htd_is_token("a b", 3));
    CHECK(!htd_is_token("a:b", 3));
    CHECK(!htd_is_token("a\tb", 3));
    CHECK(!htd_is_token("a\0b", 3));
    CHECK(!htd_is_token("caf\xc3\xa9", 5));
    static const char seps[] = "\"(),/:;<=>?@[\\]{}";
    for (const char *s = seps; *s; s++)
        CHECK(!htd_is_token(s, 1));
    CHECK(!htd_is_token("\x7f", 1));
}

TEST(field_value_refuses_controls_but_htab)
{
    CHECK(htd_field_value_ok("", 0));
    CHECK(htd_field_value_ok("text/html; charset=utf-8", 24));
    CHECK(htd_field_value_ok("a\tb c", 5));
    CHECK(htd_field_value_ok("caf\xc3\xa9", 5)); /* obs-text */
    CHECK(!htd_field_value_ok("a\rb", 3));
    CHECK(!htd_field_value_ok("a\nb", 3));
    CHECK(!htd_field_value_ok("a\0b", 3));
    CHECK(!htd_field_value_ok("\x7f", 1));
    for (int c = 0; c < 0x20; c++) {
        char b = (char)c;
        CHECK(htd_field_value_ok(&b, 1) == (c == '\t'));
    }
}

int main(void)
{
    RUN_TESTS();
}
