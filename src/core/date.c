/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * date.c - HTTP dates (RFC 9110 section 5.6.7): formatting the Date and
 * Last-Modified values, and parsing If-Modified-Since and friends.
 *
 * Both directions run per request, so neither touches libc's time or locale
 * machinery (gmtime_r, strftime, strptime, timegm): the civil date is computed
 * from the day count with integer arithmetic on the proleptic Gregorian
 * calendar, and every name is matched byte for byte (HTTP-date is
 * case-sensitive). Nothing here has state, so all of it is thread-safe.
 */
#include "date.h"

#include <stdint.h>
#include <string.h>

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
/* The day-name-l of RFC 850 dates, in the order of wdays. */
static const struct {
    const char *name;
    size_t len;
} long_wdays[7] = {{"Sunday", 6},   {"Monday", 6}, {"Tuesday", 7}, {"Wednesday", 9},
                   {"Thursday", 8}, {"Friday", 6}, {"Saturday", 8}};

/* Formatting clamps to what four year digits can say. */
#define MIN_TIME (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MAX_TIME 253402300799LL   /* 9999-12-31T23:59:59Z */

/*
 * Days since 1970-01-01 of a civil date, and back. Both count years from
 * March, so that the leap day is the last day of its year and the month
 * lengths from March on follow the pattern 31 30 31 30 31 31 30 31 30 31 31
 * (which (153 * m + 2) / 5 reproduces), and group years in 400-year eras of
 * exactly 146097 days. 719468 is the day of 1970-01-01 counted from
 * 0000-03-01.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2) y--;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                         /* [0, 399] */
    int64_t mp = m > 2 ? m - 3 : m + 9;                  /* March is 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = era * 400 + yoe + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void htd_date_format(time_t t, char out[HTD_DATE_LEN + 1])
{
    int64_t s = (int64_t)t;
    if (s < MIN_TIME) s = MIN_TIME;
    if (s > MAX_TIME) s = MAX_TIME;

    /* Floor division, so that times before 1970 land on the right day. */
    int64_t days = s / 86400, secs = s % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */

    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    char *p = out;
    p[0] = wdays[wday][0];
    p[1] = wdays[wday][1];
    p[2] = wdays[wday][2];
    p[3] = ',';
    p[4] = ' ';
    put2(p + 5, d);
    p[7] = ' ';
    p[8] = months[m - 1][0];
    p[9] = months[m - 1][1];
    p[10] = months[m - 1][2];
    p[11] = ' ';
    put2(p + 12, (int)(y / 100));
    put2(p + 14, (int)(y % 100));
    p[16] = ' ';
    put2(p + 17, (int)(secs / 3600));
    p[19] = ':';
    put2(p + 20, (int)(secs / 60 % 60));
    p[22] = ':';
    put2(p + 23, (int)(secs % 60));
    p[25] = ' ';
    p[26] = 'G';
    p[27] = 'M';
    p[28] = 'T';
    p[29] = '\0';
}

/* n decimal digits at p, or -1 if any is not a digit. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i] - '0';
        if (c > 9) return -1;
        v = v * 10 + (int)c;
    }
    return v;
}

/* The month (1..12) named by the three bytes at p, or 0. */
static int month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (p[0] == months[i][0] && p[1] == months[i][1] && p[2] == months[i][2]) return i + 1;
    return 0;
}

static int short_wday(const char *p)
{
    for (int i = 0; i < 7; i++)
        if (p[0] == wdays[i][0] && p[1] == wdays[i][1] && p[2] == wdays[i][2]) return 1;
    return 0;
}

/* "HH:MM:SS" at p into seconds of the day, or -1. Second 60 is the leap
 * second the grammar allows; it counts as the first second of the next
 * minute, as time_t has no other place for it. */
static int32_t time_of_day(const char *p)
{
    if (p[2] != ':' || p[5] != ':') return -1;
    int h = digits(p, 2), mi = digits(p + 3, 2), s = digits(p + 6, 2);
    if (h < 0 || mi < 0 || s < 0 || h > 23 || mi > 59 || s > 60) return -1;
    return h * 3600 + mi * 60 + s;
}

/*
 * The two-digit year of an RFC 850 date. RFC 9110 says a year that appears to
 * be more than 50 years in the future is the most recent past year with the
 * same last two digits. Kept simple: the year is the one with those digits in
 * the window from 49 years before the current UTC year to 50 years after it,
 * compared by year only (in 2026: "76" is 2076, "77" is 1977).
 */
static int64_t rfc850_year(int yy)
{
    int64_t now = (int64_t)time(NULL), cy;
    int m, d;
    civil_from_days(now / 86400 - (now % 86400 < 0), &cy, &m, &d);
    int64_t y = cy - cy % 100 + yy;
    if (y > cy + 50)
        y -= 100;
    else if (y <= cy - 50)
        y += 100; /* "05" read in 2096 is 2105 */
    return y;
}

int htd_date_parse(const char *s, size_t len, time_t *out)
{
    int64_t y;
    int m, d;
    int32_t tod;

    if (len < 24 || !short_wday(s)) return -1;
    if (s[3] == ',') {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (len != 29 || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
            s[25] != ' ' || s[26] != 'G' || s[27] != 'M' || s[28] != 'T')
            return -1;
        d = digits(s + 5, 2);
        m = month(s + 8);
        y = digits(s + 12, 4);
        tod = time_of_day(s + 17);
    } else if (s[3] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994", the day also as "06" */
        if (len != 24 || s[7] != ' ' || s[10] != ' ' || s[19] != ' ') return -1;
        m = month(s + 4);
        d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
        tod = time_of_day(s + 11);
        y = digits(s + 20, 4);
    } else {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        size_t n = 0;
        for (int i = 0; i < 7 && n == 0; i++)
            if (len == long_wdays[i].len + 24 &&
                memcmp(s, long_wdays[i].name, long_wdays[i].len) == 0)
                n = long_wdays[i].len;
        if (n == 0) return -1;
        const char *p = s + n;
        if (p[0] != ',' || p[1] != ' ' || p[4] != '-' || p[8] != '-' || p[11] != ' ' ||
            p[20] != ' ' || p[21] != 'G' || p[22] != 'M' || p[23] != 'T')
            return -1;
        d = digits(p + 2, 2);
        m = month(p + 5);
        int yy = digits(p + 9, 2);
        if (yy < 0) return -1;
        y = rfc850_year(yy);
        tod = time_of_day(p + 12);
    }
    /* The day name is checked for spelling but not against the date: it is
     * redundant, and a client that gets it wrong still means the date. */
    if (m == 0 || y < 0 || tod < 0 || d < 1 || d > days_in_month(y, m)) return -1;

    int64_t t = days_from_civil(y, m, d) * 86400 + tod;
    if ((int64_t)(time_t)t != t) return -1; /* a 32-bit time_t */
    *out = (time_t)t;
    return 0;
}
