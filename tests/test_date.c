/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_date.c - htd_date_format against libc's gmtime_r as an oracle, and
 * htd_date_parse over the three forms RFC 9110 names and many malformed ones.
 */
#include "date.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* What htd_date_format must produce for t, built from gmtime_r. */
static void oracle(time_t t, char out[HTD_DATE_LEN + 1])
{
    static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    char buf[64];
    gmtime_r(&t, &tm);
    snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
             mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buf, HTD_DATE_LEN);
    out[HTD_DATE_LEN] = '\0';
}

/* Parses an exact-size copy of s without its NUL, so ASan sees any read
 * past len. */
static int parse(const char *s, time_t *t)
{
    size_t len = strlen(s);
    char *copy = malloc(len ? len : 1);
    if (!copy) return -2;
    memcpy(copy, s, len);
    int rc = htd_date_parse(copy, len, t);
    free(copy);
    return rc;
}

/* The parse result of s, or a sentinel that no test expects. */
static long long parsed(const char *s)
{
    time_t t;
    return parse(s, &t) == 0 ? (long long)t : -999999;
}

static int current_year(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

#define RFC_EXAMPLE 784111777 /* 1994-11-06T08:49:37Z */

TEST(format_rfc_example)
{
    char buf[HTD_DATE_LEN + 1];
    htd_date_format(RFC_EXAMPLE, buf);
    CHECK_STR(buf, strlen(buf), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(format_epoch_and_its_last_second_before)
{
    char buf[HTD_DATE_LEN + 1];
    htd_date_format(0, buf);
    CHECK_STR(buf, strlen(buf), "Thu, 01 Jan 1970 00:00:00 GMT");
    htd_date_format(-1, buf);
    CHECK_STR(buf, strlen(buf), "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST(format_writes_exactly_len_and_a_nul)
{
    char buf[HTD_DATE_LEN + 8];
    memset(buf, 'x', sizeof buf);
    htd_date_format(1700000000, buf);
    CHECK_EQ_INT(strlen(buf), HTD_DATE_LEN);
    CHECK(buf[HTD_DATE_LEN + 1] == 'x');
}

TEST(format_leap_days)
{
    char buf[HTD_DATE_LEN + 1];
    htd_date_format(951782400, buf); /* 2000 is a leap year (divisible by 400) */
    CHECK_STR(buf, strlen(buf), "Tue, 29 Feb 2000 00:00:00 GMT");
    htd_date_format(1709251199, buf);
    CHECK_STR(buf, strlen(buf), "Thu, 29 Feb 2024 23:59:59 GMT");
    htd_date_format(4107542399, buf); /* 2100 is not */
    CHECK_STR(buf, strlen(buf), "Sun, 28 Feb 2100 23:59:59 GMT");
    htd_date_format(4107542400, buf);
    CHECK_STR(buf, strlen(buf), "Mon, 01 Mar 2100 00:00:00 GMT");
}

TEST(format_matches_gmtime_every_day_1970_to_2100)
{
    char got[HTD_DATE_LEN + 1], want[HTD_DATE_LEN + 1];
    int bad = 0;
    /* A different second of the day each day, so every field value occurs. */
    for (int64_t day = 0, sec = 0; day <= 47846 && bad < 5; day++, sec = (sec + 7919) % 86400) {
        time_t t = (time_t)(day * 86400 + sec);
        htd_date_format(t, got);
        oracle(t, want);
        if (strcmp(got, want) != 0) bad++;
        CHECK_STR(got, strlen(got), want);
        htd_date_format((time_t)(day * 86400), got);
        oracle((time_t)(day * 86400), want);
        CHECK(strcmp(got, want) == 0);
        htd_date_format((time_t)(day * 86400 + 86399), got);
        oracle((time_t)(day * 86400 + 86399), want);
        CHECK(strcmp(got, want) == 0);
    }
}

TEST(format_matches_gmtime_across_years_1_to_9999)
{
    char got[HTD_DATE_LEN + 1], want[HTD_DATE_LEN + 1];
    int bad = 0;
    for (int64_t t = -62135596800LL; t <= 253402300799LL && bad < 5; t += 9999991) {
        htd_date_format((time_t)t, got);
        oracle((time_t)t, want);
        if (strcmp(got, want) != 0) bad++;
        CHECK_STR(got, strlen(got), want);
    }
}

TEST(format_clamps_to_four_digit_years)
{
    char buf[HTD_DATE_LEN + 1];
    htd_date_format((time_t)INT64_MAX, buf);
    CHECK_STR(buf, strlen(buf), "Fri, 31 Dec 9999 23:59:59 GMT");
    htd_date_format((time_t)253402300800LL, buf);
    CHECK_STR(buf, strlen(buf), "Fri, 31 Dec 9999 23:59:59 GMT");
    htd_date_format((time_t)INT64_MIN, buf);
    CHECK_STR(buf, strlen(buf), "Mon, 01 Jan 0001 00:00:00 GMT");
}

TEST(parse_the_three_rfc_examples)
{
    CHECK_EQ_INT(parsed("Sun, 06 Nov 1994 08:49:37 GMT"), RFC_EXAMPLE);
    CHECK_EQ_INT(parsed("Sun Nov  6 08:49:37 1994"), RFC_EXAMPLE);
    if (current_year() < 2044) /* then "94" is still 1994 */
        CHECK_EQ_INT(parsed("Sunday, 06-Nov-94 08:49:37 GMT"), RFC_EXAMPLE);
}

TEST(parse_round_trips_every_day_1970_to_2100)
{
    char buf[HTD_DATE_LEN + 1];
    int bad = 0;
    for (int64_t day = 0, sec = 0; day <= 47846 && bad < 5; day++, sec = (sec + 7919) % 86400) {
        time_t t = (time_t)(day * 86400 + sec), back = 0;
        htd_date_format(t, buf);
        int rc = htd_date_parse(buf, HTD_DATE_LEN, &back);
        if (rc != 0 || back != t) {
            bad++;
            fprintf(stderr, "round trip of %lld via \"%s\" gave %d, %lld\n", (long long)t, buf, rc,
                    (long long)back);
        }
        CHECK(rc == 0 && back == t);
    }
}

TEST(parse_round_trips_years_1_to_9999)
{
    char buf[HTD_DATE_LEN + 1];
    for (int64_t t = -62135596800LL; t <= 253402300799LL; t += 86400 * 365 + 12345) {
        time_t back = 0;
        htd_date_format((time_t)t, buf);
        CHECK(htd_date_parse(buf, HTD_DATE_LEN, &back) == 0 && back == (time_t)t);
    }
}

TEST(parse_leap_days_and_century_years)
{
    CHECK_EQ_INT(parsed("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    CHECK_EQ_INT(parsed("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199);
    CHECK_EQ_INT(parsed("Thu Feb 29 23:59:59 2024"), 1709251199);
    CHECK_EQ_INT(parsed("Thursday, 29-Feb-24 23:59:59 GMT"), 1709251199);
    CHECK(parsed("Mon, 29 Feb 2100 00:00:00 GMT") == -999999);
    CHECK(parsed("Thu, 29 Feb 1900 00:00:00 GMT") == -999999);
    CHECK(parsed("Wed, 29 Feb 2023 00:00:00 GMT") == -999999);
    CHECK(parsed("Wed Feb 29 00:00:00 2023") == -999999);
}

TEST(parse_asctime_day_with_leading_zero_or_space)
{
    CHECK_EQ_INT(parsed("Sun Nov 06 08:49:37 1994"), RFC_EXAMPLE);
    CHECK_EQ_INT(parsed("Thu Jan  1 00:00:00 1970"), 0);
    CHECK_EQ_INT(parsed("Fri Dec 31 23:59:59 1999"), 946684799);
    CHECK(parsed("Sun Nov  0 08:49:37 1994") == -999999);
    CHECK(parsed("Sun Nov 6  08:49:37 1994") == -999999);
    CHECK(parsed("Sun Nov x6 08:49:37 1994") == -999999);
}

TEST(parse_rfc850_every_day_name)
{
    CHECK_EQ_INT(parsed("Monday, 07-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 86400);
    CHECK_EQ_INT(parsed("Tuesday, 08-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 2 * 86400);
    CHECK_EQ_INT(parsed("Wednesday, 09-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 3 * 86400);
    CHECK_EQ_INT(parsed("Thursday, 10-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 4 * 86400);
    CHECK_EQ_INT(parsed("Friday, 11-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 5 * 86400);
    CHECK_EQ_INT(parsed("Saturday, 12-Nov-94 08:49:37 GMT"), RFC_EXAMPLE + 6 * 86400);
    CHECK(parsed("Funday, 06-Nov-94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sundae, 06-Nov-94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday, 06-Nov-1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday, 06 Nov 94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday 06-Nov-94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday, 06-nov-94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday, 06-Nov-9x 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday, 31-Nov-94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sunday, 06-Nov-94 08:49:37 UTC") == -999999);
}

/* The start of year y, computed with libc as a check on the window. */
static long long year_start(int y)
{
    char s[64];
    snprintf(s, sizeof s, "Sat, 01 Jan %04d 00:00:00 GMT", y);
    return parsed(s);
}

TEST(parse_rfc850_two_digit_year_is_at_most_50_years_ahead)
{
    int cy = current_year();
    char s[64];
    /* 50 years ahead is still the future... */
    snprintf(s, sizeof s, "Saturday, 01-Jan-%02d 00:00:00 GMT", (cy + 50) % 100);
    CHECK_EQ_INT(parsed(s), year_start(cy + 50));
    /* ...51 years ahead is the past century. */
    snprintf(s, sizeof s, "Saturday, 01-Jan-%02d 00:00:00 GMT", (cy + 51) % 100);
    CHECK_EQ_INT(parsed(s), year_start(cy + 51 - 100));
    /* This year and last year are what they say. */
    snprintf(s, sizeof s, "Saturday, 01-Jan-%02d 00:00:00 GMT", cy % 100);
    CHECK_EQ_INT(parsed(s), year_start(cy));
    snprintf(s, sizeof s, "Saturday, 01-Jan-%02d 00:00:00 GMT", (cy - 1) % 100);
    CHECK_EQ_INT(parsed(s), year_start(cy - 1));
    if (cy >= 2020 && cy < 2050) { /* the window holds both 2000 and 2070 */
        CHECK_EQ_INT(parsed("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);
        CHECK_EQ_INT(parsed("Tuesday, 01-Jan-70 00:00:00 GMT"), 3155760000LL);
    }
}

TEST(parse_ignores_a_wrong_day_name)
{
    CHECK_EQ_INT(parsed("Mon, 06 Nov 1994 08:49:37 GMT"), RFC_EXAMPLE);
    CHECK_EQ_INT(parsed("Sat Nov  6 08:49:37 1994"), RFC_EXAMPLE);
}

TEST(parse_leap_second_is_the_next_second)
{
    CHECK_EQ_INT(parsed("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
    CHECK(parsed("Sat, 31 Dec 2016 23:59:61 GMT") == -999999);
}

TEST(parse_rejects_out_of_range_fields)
{
    CHECK(parsed("Sun, 06 Nov 1994 24:00:00 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 23:60:00 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 23:59:99 GMT") == -999999);
    CHECK(parsed("Sun, 32 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 31 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 31 Apr 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 00 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 30 Feb 2024 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun Feb 30 08:49:37 2024") == -999999);
    CHECK(parsed("Sun Nov 32 08:49:37 1994") == -999999);
    CHECK(parsed("Sun Nov  6 24:49:37 1994") == -999999);
    CHECK_EQ_INT(parsed("Sun, 31 Dec 1995 23:59:59 GMT"), 820454399);
    CHECK_EQ_INT(parsed("Sun, 31 Jan 1995 00:00:00 GMT"), 791510400);
}

TEST(parse_rejects_garbage_and_wrong_case)
{
    CHECK(parsed("") == -999999);
    CHECK(parsed("x") == -999999);
    CHECK(parsed("yesterday") == -999999);
    CHECK(parsed("784111777") == -999999);
    CHECK(parsed("0123456789012345678901234567") == -999999);
    CHECK(parsed("01234567890123456789012345678") == -999999);
    CHECK(parsed("sun, 06 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("SUN, 06 NOV 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08:49:37 gmt") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08:49:37 UTC") == -999999);
    CHECK(parsed("Sun, 06 Foo 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sux, 06 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 6 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 94 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 19a4 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov +994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08-49-37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 8:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06-Nov-1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun,06 Nov 1994 08:49:37 GMT ") == -999999);
    CHECK(parsed("Sun Nov  6 08:49:37 94") == -999999);
    CHECK(parsed("Sun Nov  6 08:49:37 1994 GMT") == -999999);
    CHECK(parsed("Sun Nov  6 08:49:37  1994") == -999999);
}

TEST(parse_rejects_leading_and_trailing_junk)
{
    CHECK(parsed(" Sun, 06 Nov 1994 08:49:37 GMT") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08:49:37 GMT ") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08:49:37 GMTx") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08:49:37 GMT, Mon") == -999999);
    CHECK(parsed("Sun Nov  6 08:49:37 19945") == -999999);
    CHECK(parsed("Sunday, 06-Nov-94 08:49:37 GMT;") == -999999);
    CHECK(parsed("Sun, 06 Nov 1994 08:49:37 GM") == -999999);
    CHECK(parsed("Sun Nov  6 08:49:37 199") == -999999);
}

TEST(parse_reads_only_len_bytes)
{
    const char *s = "Sun, 06 Nov 1994 08:49:37 GMT\r\nNext: header";
    time_t t = 0;
    CHECK(htd_date_parse(s, HTD_DATE_LEN, &t) == 0 && t == RFC_EXAMPLE);
    CHECK(htd_date_parse(s, HTD_DATE_LEN - 1, &t) == -1);
    CHECK(htd_date_parse(s, HTD_DATE_LEN + 1, &t) == -1);
    /* An embedded NUL is just a wrong byte. */
    char buf[] = "Sun, 06 Nov 1994 08:49:37 GMT";
    buf[18] = '\0';
    CHECK(htd_date_parse(buf, HTD_DATE_LEN, &t) == -1);
}

TEST(parse_failure_leaves_out_alone)
{
    time_t t = 42;
    CHECK(parse("Sun, 06 Nov 1994 25:49:37 GMT", &t) == -1);
    CHECK_EQ_INT(t, 42);
}

TEST(random_bytes_are_rejected_without_reading_past_len)
{
    /* Mutations of valid dates: most stay invalid, none may crash. */
    static const char *seeds[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                  "Wednesday, 09-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"};
    static const char alphabet[] = "0123456789 :,-SunMoWedFriGMTNovFeb\t";
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (int iter = 0; iter < 200000; iter++) {
        char s[40];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const char *seed = seeds[x % 4];
        size_t len = strlen(seed);
        memcpy(s, seed, len + 1);
        for (int k = 0; k < 1 + (int)((x >> 8) % 3); k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[x % len] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
        }
        if ((x >> 40) % 4 == 0) s[(x >> 42) % (len + 1)] = '\0'; /* truncate */
        time_t t;
        if (parse(s, &t) == 0) {
            /* Whatever parsed is a real date that formats back. */
            char buf[HTD_DATE_LEN + 1];
            time_t back;
            htd_date_format(t, buf);
            CHECK(htd_date_parse(buf, HTD_DATE_LEN, &back) == 0 && back == t);
        }
    }
}

int main(void)
{
    RUN_TESTS();
}
