/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * encoding.h - content codings: which of identity, gzip and br a client
 * takes, from its Accept-Encoding field (RFC 9110 section 12.5.3).
 */
#ifndef HTD_ENCODING_H
#define HTD_ENCODING_H

#include "htd.h"

enum { ENC_IDENTITY, ENC_GZIP, ENC_BR, ENC_COUNT };

/* Preferences from 0 to 1000 (q-values times 1000), per coding. An absent
 * field (v.p == NULL) accepts identity only. "*" stands for every coding
 * not named; identity is acceptable unless refused by name or by "*", but
 * below any coding the client lists (q 0.001). A malformed element is
 * skipped. */
void htd_accept_encoding(htd_str v, unsigned q[ENC_COUNT]);

/* Whether the Accept-Encoding value v may refuse identity. Only an element
 * "identity;q=0" or "*;q=0" can, so a value with neither a '*' nor a 'y'
 * (of "identity", in either case) cannot: when identity is all there is to
 * send, such a value needs no parse. Exact that way; 1 says only that the
 * value must be parsed to know. */
int htd_accept_may_refuse_identity(htd_str v);

/* A qvalue (RFC 9110 section 12.4.2): "0", "0.5", "1", "1.000", in
 * thousandths, or -1 if malformed. */
int htd_qvalue(const char *p, size_t n);

/* The coding to send among those available (bit 1 << ENC_x set): the one
 * the client prefers, br before gzip before identity on a tie; -1 if none
 * is acceptable (then 406). */
int htd_choose_encoding(const unsigned q[ENC_COUNT], unsigned available);

#endif
