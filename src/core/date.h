/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * date.h - HTTP dates (RFC 9110 section 5.6.7).
 */
#ifndef HTD_DATE_H
#define HTD_DATE_H

#include <stddef.h>
#include <time.h>

#define HTD_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes t as an IMF-fixdate: HTD_DATE_LEN characters and a NUL. */
void htd_date_format(time_t t, char out[HTD_DATE_LEN + 1]);

/* Parses an IMF-fixdate, or the obsolete RFC 850 and asctime forms that a
 * recipient must accept. Returns 0 and sets *out, or -1 if s is not a date. */
int htd_date_parse(const char *s, size_t len, time_t *out);

#endif
