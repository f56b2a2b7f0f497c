/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_range.c - htd_range_parse: the RFC 9110 examples, list syntax,
 * clipping, unsatisfiable and invalid fields, huge numbers and the limit on
 * the number of ranges; htd_range_coalesce: overlapping, adjacent, contained
 * and out-of-order ranges merged in the client's order, sets that ask for
 * more than the size ignored.
 */
#include "range.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static htd_range r_[HTD_MAX_RANGES + 1];

static int parse_max(const char *v, uint64_t size, int max)
{
    for (int i = 0; i <= HTD_MAX_RANGES; i++)
        r_[i].first = r_[i].last = 0xdeadbeef;
    /* An exact-size copy without a NUL, so ASan sees any read past len. */
    size_t len = strlen(v);
    char *copy = malloc(len ? len : 1);
    if (!copy) return -2;
    memcpy(copy, v, len);
    int n = htd_range_parse(copy, len, size, r_, max);
    free(copy);
    /* Nothing is written past max, nor past the ranges returned. (Until the
     * field turns out invalid, earlier ranges may have been written.) */
    int bad = 0;
    for (int i = n > 0 ? n : max; i <= HTD_MAX_RANGES; i++)
        bad += r_[i].first != 0xdeadbeef || r_[i].last != 0xdeadbeef;
    CHECK_EQ_INT(bad, 0);
    for (int i = 0; i < n; i++)
        CHECK(r_[i].first <= r_[i].last && r_[i].last < size);
    return n;
}

static int parse(const char *v, uint64_t size)
{
    return parse_max(v, size, HTD_MAX_RANGES);
}

#define RANGE(i, f, l)                                                                             \
    do {                                                                                           \
        CHECK_EQ_INT(r_[i].first, f);                                                              \
        CHECK_EQ_INT(r_[i].last, l);                                                               \
    } while (0)

TEST(rfc_examples_on_10000_bytes)
{
    CHECK_EQ_INT(parse("bytes=0-499", 10000), 1);
    RANGE(0, 0, 499);
    CHECK_EQ_INT(parse("bytes=500-999", 10000), 1);
    RANGE(0, 500, 999);
    CHECK_EQ_INT(parse("bytes=-500", 10000), 1);
    RANGE(0, 9500, 9999);
    CHECK_EQ_INT(parse("bytes=9500-", 10000), 1);
    RANGE(0, 9500, 9999);
    CHECK_EQ_INT(parse("bytes=0-0,-1", 10000), 2);
    RANGE(0, 0, 0);
    RANGE(1, 9999, 9999);
    CHECK_EQ_INT(parse("bytes=500-600,601-999", 10000), 2);
    RANGE(0, 500, 600);
    RANGE(1, 601, 999);
    CHECK_EQ_INT(parse("bytes=500-700,601-999", 10000), 2);
    RANGE(0, 500, 700);
    RANGE(1, 601, 999);
}

TEST(unit_is_case_insensitive)
{
    CHECK_EQ_INT(parse("BYTES=0-1", 10), 1);
    CHECK_EQ_INT(parse("Bytes=0-1", 10), 1);
    CHECK_EQ_INT(parse("bYtEs=0-1", 10), 1);
}

TEST(other_units_and_malformed_units_are_ignored)
{
    CHECK_EQ_INT(parse("items=0-1", 10), 0);
    CHECK_EQ_INT(parse("byte=0-1", 10), 0);
    CHECK_EQ_INT(parse("bytesx=0-1", 10), 0);
    CHECK_EQ_INT(parse("bytes 0-1", 10), 0);
    CHECK_EQ_INT(parse("bytes =0-1", 10), 0);
    CHECK_EQ_INT(parse("bytes:0-1", 10), 0);
    CHECK_EQ_INT(parse("0-1", 10), 0);
    CHECK_EQ_INT(parse("", 10), 0);
    CHECK_EQ_INT(parse("bytes", 10), 0);
    CHECK_EQ_INT(parse("bYTES", 10), 0);
    CHECK_EQ_INT(parse("\"bytes=0-1\"", 10), 0);
}

TEST(a_field_without_ranges_is_ignored)
{
    CHECK_EQ_INT(parse("bytes=", 10), 0);
    CHECK_EQ_INT(parse("bytes=,", 10), 0);
    CHECK_EQ_INT(parse("bytes= , ,", 10), 0);
    CHECK_EQ_INT(parse("bytes= ", 10), 0);
    CHECK_EQ_INT(parse("bytes=", 0), 0);
}

TEST(list_whitespace_and_empty_elements)
{
    CHECK_EQ_INT(parse("bytes=0-1 , 3-4", 10), 2);
    RANGE(1, 3, 4);
    CHECK_EQ_INT(parse("bytes=0-1,\t3-4", 10), 2);
    CHECK_EQ_INT(parse("bytes=0-1 ,, ,3-4", 10), 2);
    CHECK_EQ_INT(parse("bytes=,0-1", 10), 1);
    CHECK_EQ_INT(parse("bytes=, ,0-1", 10), 1);
    CHECK_EQ_INT(parse("bytes=0-1,", 10), 1);
    CHECK_EQ_INT(parse("bytes=0-1, ", 10), 1);
    CHECK_EQ_INT(parse("bytes=0-1 ", 10), 1);
    CHECK_EQ_INT(parse("bytes= -3", 10), 1);
    RANGE(0, 7, 9);
    CHECK_EQ_INT(parse(" bytes=0-1", 10), 1);
}

TEST(malformed_ranges_invalidate_the_field)
{
    CHECK_EQ_INT(parse("bytes=a-b", 10), 0);
    CHECK_EQ_INT(parse("bytes=1", 10), 0);
    CHECK_EQ_INT(parse("bytes=-", 10), 0);
    CHECK_EQ_INT(parse("bytes=--1", 10), 0);
    CHECK_EQ_INT(parse("bytes=1-2-3", 10), 0);
    CHECK_EQ_INT(parse("bytes=-1-2", 10), 0);
    CHECK_EQ_INT(parse("bytes=1-2;3", 10), 0);
    CHECK_EQ_INT(parse("bytes=+1-2", 10), 0);
    CHECK_EQ_INT(parse("bytes=1-+2", 10), 0);
    CHECK_EQ_INT(parse("bytes=0x1-2", 10), 0);
    CHECK_EQ_INT(parse("bytes=1-2 3-4", 10), 0);
    CHECK_EQ_INT(parse("bytes=0 -1", 10), 0);
    CHECK_EQ_INT(parse("bytes=0- 1", 10), 0);
    CHECK_EQ_INT(parse("bytes=- 1", 10), 0);
    CHECK_EQ_INT(parse("bytes=0-1,x", 10), 0);
    CHECK_EQ_INT(parse("bytes=0-1,2-3,foo", 10), 0);
    CHECK_EQ_INT(parse("bytes=1.5-2", 10), 0);
    CHECK_EQ_INT(parse("bytes=0-1\r\n", 10), 0);
}

TEST(first_after_last_invalidates_the_field)
{
    CHECK_EQ_INT(parse("bytes=5-4", 10), 0);
    CHECK_EQ_INT(parse("bytes=0-1,5-4", 10), 0);
    CHECK_EQ_INT(parse("bytes=50-40", 10), 0); /* even when unsatisfiable */
    CHECK_EQ_INT(parse("bytes=4-4", 10), 1);
    RANGE(0, 4, 4);
}

TEST(last_is_clipped_to_the_size)
{
    CHECK_EQ_INT(parse("bytes=0-99999", 100), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(parse("bytes=50-", 100), 1);
    RANGE(0, 50, 99);
    CHECK_EQ_INT(parse("bytes=99-100", 100), 1);
    RANGE(0, 99, 99);
    CHECK_EQ_INT(parse("bytes=0-", 1), 1);
    RANGE(0, 0, 0);
}

TEST(suffix_ranges)
{
    CHECK_EQ_INT(parse("bytes=-1", 100), 1);
    RANGE(0, 99, 99);
    CHECK_EQ_INT(parse("bytes=-100", 100), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(parse("bytes=-500", 100), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(parse("bytes=-0", 100), -1);
    CHECK_EQ_INT(parse("bytes=-000", 100), -1);
}

TEST(unsatisfiable_ranges_are_dropped)
{
    CHECK_EQ_INT(parse("bytes=100-", 100), -1);
    CHECK_EQ_INT(parse("bytes=100-200", 100), -1);
    CHECK_EQ_INT(parse("bytes=200-300,0-1", 100), 1);
    RANGE(0, 0, 1);
    CHECK_EQ_INT(parse("bytes=0-1,200-300,-0,5-6", 100), 2);
    RANGE(0, 0, 1);
    RANGE(1, 5, 6);
    CHECK_EQ_INT(parse("bytes=-0,100-", 100), -1);
}

TEST(an_empty_representation_satisfies_no_range)
{
    CHECK_EQ_INT(parse("bytes=0-", 0), -1);
    CHECK_EQ_INT(parse("bytes=0-0", 0), -1);
    CHECK_EQ_INT(parse("bytes=-5", 0), -1);
    CHECK_EQ_INT(parse("bytes=-0", 0), -1);
    CHECK_EQ_INT(parse("bytes=0-0,-1,5-", 0), -1);
    /* ...but an invalid field is still just invalid. */
    CHECK_EQ_INT(parse("bytes=x", 0), 0);
    CHECK_EQ_INT(parse("bytes=5-4", 0), 0);
    CHECK_EQ_INT(parse("items=0-", 0), 0);
}

TEST(leading_zeros_are_digits)
{
    CHECK_EQ_INT(parse("bytes=000-001", 10), 1);
    RANGE(0, 0, 1);
    CHECK_EQ_INT(parse("bytes=-0003", 10), 1);
    RANGE(0, 7, 9);
}

TEST(huge_numbers_saturate)
{
    CHECK_EQ_INT(parse("bytes=99999999999999999999999-", 100), -1);
    CHECK_EQ_INT(parse("bytes=0-99999999999999999999999", 100), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(parse("bytes=-99999999999999999999999", 100), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(parse("bytes=18446744073709551615-", 100), -1);
    CHECK_EQ_INT(parse("bytes=18446744073709551616-", 100), -1);
    CHECK_EQ_INT(parse("bytes=0-18446744073709551615", 100), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(parse("bytes=1844674407370955161-1844674407370955161", 100), -1);
}

TEST(huge_sizes)
{
    CHECK_EQ_INT(parse("bytes=18446744073709551614-", UINT64_MAX), 1);
    RANGE(0, UINT64_MAX - 1, UINT64_MAX - 1);
    CHECK_EQ_INT(parse("bytes=18446744073709551615-", UINT64_MAX), -1);
    CHECK_EQ_INT(parse("bytes=-18446744073709551615", UINT64_MAX), 1);
    RANGE(0, 0, UINT64_MAX - 1);
    CHECK_EQ_INT(parse("bytes=-1", UINT64_MAX), 1);
    RANGE(0, UINT64_MAX - 1, UINT64_MAX - 1);
    CHECK_EQ_INT(parse("bytes=0-", UINT64_MAX), 1);
    RANGE(0, 0, UINT64_MAX - 1);
}

TEST(first_after_last_is_found_beyond_64_bits)
{
    CHECK_EQ_INT(parse("bytes=18446744073709551616-18446744073709551615", 100), 0);
    CHECK_EQ_INT(parse("bytes=99999999999999999999-99999999999999999998", 100), 0);
    CHECK_EQ_INT(parse("bytes=100000000000000000000-99999999999999999999", 100), 0);
    CHECK_EQ_INT(parse("bytes=99999999999999999998-99999999999999999999", 100), -1);
    CHECK_EQ_INT(parse("bytes=99999999999999999999-99999999999999999999", 100), -1);
    CHECK_EQ_INT(parse("bytes=0099999999999999999999-99999999999999999999", 100), -1);
    CHECK_EQ_INT(parse("bytes=99999999999999999999-00099999999999999999999", 100), -1);
    CHECK_EQ_INT(parse("bytes=5-99999999999999999999", 100), 1);
    RANGE(0, 5, 99);
}

TEST(more_than_max_ranges_is_ignored)
{
    const char *sixteen = "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,"
                          "14-14,15-15";
    const char *seventeen = "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,"
                            "14-14,15-15,16-16";
    CHECK_EQ_INT(parse(sixteen, 100), 16);
    RANGE(15, 15, 15);
    CHECK_EQ_INT(parse(seventeen, 100), 0);
    CHECK_EQ_INT(parse_max("bytes=0-1,2-3", 10, 2), 2);
    CHECK_EQ_INT(parse_max("bytes=0-1,2-3,4-5", 10, 2), 0);
    /* Every range in the field counts, satisfiable or not... */
    CHECK_EQ_INT(parse_max("bytes=0-1,50-60,2-3", 10, 2), 0);
    /* ...but empty list elements are not ranges. */
    CHECK_EQ_INT(parse_max("bytes=0-1,,, ,2-3,", 10, 2), 2);
    CHECK_EQ_INT(parse_max("bytes=0-1", 10, 0), 0);
}

TEST(ranges_keep_their_order_and_overlaps)
{
    CHECK_EQ_INT(parse("bytes=5-9,0-4,0-9,-2", 10), 4);
    RANGE(0, 5, 9);
    RANGE(1, 0, 4);
    RANGE(2, 0, 9);
    RANGE(3, 8, 9);
}

TEST(reads_only_len_bytes)
{
    htd_range r[4];
    CHECK_EQ_INT(htd_range_parse("bytes=0-1,2-3", 9, 10, r, 4), 1);
    CHECK_EQ_INT(htd_range_parse("bytes=0-12", 9, 100, r, 4), 1);
    CHECK_EQ_INT(r[0].last, 1);
    CHECK_EQ_INT(htd_range_parse("bytes=0-1", 5, 10, r, 4), 0);
    CHECK_EQ_INT(htd_range_parse("bytes=-5x", 8, 10, r, 4), 1);
}

TEST(random_fields_stay_in_bounds)
{
    static const char alphabet[] = "0123456789--,, \tbytes=Bx";
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (int iter = 0; iter < 200000; iter++) {
        char v[48];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = x % 40;
        uint64_t size = (x >> 8) % 4 == 0 ? 0 : (x >> 10) % 1000;
        int max = 1 + (int)((x >> 20) % HTD_MAX_RANGES);
        memcpy(v, "bytes=", 6);
        for (size_t i = (x >> 30) % 2 ? 6 : 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        v[len < 6 ? 6 : len] = '\0';
        int n = parse_max(v, size, max);
        CHECK(n >= -1 && n <= max);
        if (size == 0) CHECK(n <= 0);
    }
}

/* Parses v against size, then coalesces: what static.c sends. */
static int plan(const char *v, uint64_t size)
{
    int n = parse(v, size);
    return n > 0 ? htd_range_coalesce(r_, n, size) : n;
}

TEST(overlapping_ranges_are_merged)
{
    CHECK_EQ_INT(plan("bytes=0-9,5-14", 100), 1);
    RANGE(0, 0, 14);
    CHECK_EQ_INT(plan("bytes=5-14,0-9", 100), 1);
    RANGE(0, 0, 14);
    CHECK_EQ_INT(plan("bytes=500-700,601-999", 10000), 1); /* RFC 9110's example */
    RANGE(0, 500, 999);
    CHECK_EQ_INT(plan("bytes=0-9,9-9", 100), 1); /* one byte in common */
    RANGE(0, 0, 9);
    CHECK_EQ_INT(plan("bytes=0-1,1-2,2-3,3-4", 100), 1);
    RANGE(0, 0, 4);
    CHECK_EQ_INT(plan("bytes=-10,85-94", 100), 1); /* a suffix, resolved first */
    RANGE(0, 85, 99);
}

TEST(adjacent_ranges_are_merged)
{
    CHECK_EQ_INT(plan("bytes=0-4,5-9", 100), 1);
    RANGE(0, 0, 9);
    CHECK_EQ_INT(plan("bytes=5-9,0-4", 100), 1);
    RANGE(0, 0, 9);
    CHECK_EQ_INT(plan("bytes=500-600,601-999", 10000), 1); /* RFC 9110's example */
    RANGE(0, 500, 999);
    CHECK_EQ_INT(plan("bytes=0-49,-50", 100), 1); /* the whole, in two halves */
    RANGE(0, 0, 99);
    /* A gap of one byte is a gap. */
    CHECK_EQ_INT(plan("bytes=0-4,6-9", 100), 2);
    RANGE(0, 0, 4);
    RANGE(1, 6, 9);
}

TEST(contained_ranges_are_merged)
{
    CHECK_EQ_INT(plan("bytes=0-99,10-19", 1000), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(plan("bytes=10-19,0-99", 1000), 1);
    RANGE(0, 0, 99);
    CHECK_EQ_INT(plan("bytes=40-49,40-49", 1000), 1);
    RANGE(0, 40, 49);
    CHECK_EQ_INT(plan("bytes=3-3,0-9,5-5,9-9", 1000), 1);
    RANGE(0, 0, 9);
}

TEST(out_of_order_ranges_keep_the_clients_order)
{
    /* Nothing touches: untouched. */
    CHECK_EQ_INT(plan("bytes=50-59,0-9,20-29", 100), 3);
    RANGE(0, 50, 59);
    RANGE(1, 0, 9);
    RANGE(2, 20, 29);
    /* A merged range stands where the first of its ranges stood. */
    CHECK_EQ_INT(plan("bytes=50-59,0-9,5-14", 100), 2);
    RANGE(0, 50, 59);
    RANGE(1, 0, 14);
    CHECK_EQ_INT(plan("bytes=5-14,50-59,0-9,80-", 100), 3);
    RANGE(0, 0, 14);
    RANGE(1, 50, 59);
    RANGE(2, 80, 99);
    CHECK_EQ_INT(plan("bytes=90-,30-39,60-69,35-44,0-4,65-70", 100), 4);
    RANGE(0, 90, 99);
    RANGE(1, 30, 44);
    RANGE(2, 60, 70);
    RANGE(3, 0, 4);
}

TEST(a_range_that_grows_takes_in_what_it_had_passed)
{
    /* 0-4 passes 10-14, then takes in 5-9 and so touches 10-14. */
    CHECK_EQ_INT(plan("bytes=0-4,10-14,5-9", 100), 1);
    RANGE(0, 0, 14);
    CHECK_EQ_INT(plan("bytes=20-29,0-9,40-49,10-19,30-39", 100), 1);
    RANGE(0, 0, 49);
    CHECK_EQ_INT(plan("bytes=0-1,6-7,4-5,2-3,60-69", 100), 2);
    RANGE(0, 0, 7);
    RANGE(1, 60, 69);
}

TEST(ranges_asking_for_more_than_the_size_are_ignored)
{
    /* The Apache Killer's shape: the whole, again and again. */
    CHECK_EQ_INT(plan("bytes=0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-,0-", 100000000), 0);
    CHECK_EQ_INT(plan("bytes=0-,0-", 10), 0);
    CHECK_EQ_INT(plan("bytes=0-,-1", 10), 0);
    CHECK_EQ_INT(plan("bytes=0-5,4-9", 10), 0); /* 12 bytes of 10, though they merge */
    CHECK_EQ_INT(plan("bytes=0-99,10-19", 100), 0);
    CHECK_EQ_INT(plan("bytes=-6,0-4", 10), 0);
    /* Exactly the size is allowed. */
    CHECK_EQ_INT(plan("bytes=0-4,5-9", 10), 1);
    RANGE(0, 0, 9);
    CHECK_EQ_INT(plan("bytes=5-9,0-4", 10), 1);
    RANGE(0, 0, 9);
    CHECK_EQ_INT(plan("bytes=0-", 10), 1);
    RANGE(0, 0, 9);
    CHECK_EQ_INT(plan("bytes=0-99999", 10), 1); /* clipped first */
    /* Only satisfiable ranges count. */
    CHECK_EQ_INT(plan("bytes=0-,10-,20-30", 10), 1);
    RANGE(0, 0, 9);
    /* ...and unsatisfiable sets are still 416. */
    CHECK_EQ_INT(plan("bytes=10-,20-30", 10), -1);
}

TEST(the_total_does_not_wrap_on_huge_sizes)
{
    CHECK_EQ_INT(plan("bytes=0-,0-", UINT64_MAX), 0);
    CHECK_EQ_INT(plan("bytes=0-,-1", UINT64_MAX), 0);
    CHECK_EQ_INT(plan("bytes=-1,-18446744073709551615", UINT64_MAX), 0);
    CHECK_EQ_INT(plan("bytes=0-9,10-", UINT64_MAX), 1);
    RANGE(0, 0, UINT64_MAX - 1);
    CHECK_EQ_INT(plan("bytes=-1,0-18446744073709551613", UINT64_MAX), 1);
    RANGE(0, 0, UINT64_MAX - 1);
    CHECK_EQ_INT(plan("bytes=-1,0-18446744073709551612", UINT64_MAX), 2);
    RANGE(0, UINT64_MAX - 1, UINT64_MAX - 1);
    RANGE(1, 0, UINT64_MAX - 3);
}

/* "bytes=0-0,2-2,4-4,...": count one-byte ranges a byte apart. */
static char *tiny_ranges(int count)
{
    char *v = malloc(8 + (size_t)count * 24);
    if (!v) return NULL;
    size_t n = (size_t)sprintf(v, "bytes=");
    for (int i = 0; i < count; i++)
        n += (size_t)sprintf(v + n, "%s%d-%d", i ? "," : "", 2 * i, 2 * i);
    return v;
}

TEST(many_tiny_ranges_are_capped)
{
    char *v = tiny_ranges(HTD_MAX_RANGES);
    CHECK(v != NULL);
    if (!v) return;
    CHECK_EQ_INT(plan(v, 1000), HTD_MAX_RANGES);
    RANGE(HTD_MAX_RANGES - 1, 2 * (HTD_MAX_RANGES - 1), 2 * (HTD_MAX_RANGES - 1));
    free(v);
    v = tiny_ranges(HTD_MAX_RANGES + 1);
    CHECK(v != NULL);
    if (!v) return;
    CHECK_EQ_INT(plan(v, 1000), 0);
    free(v);
    v = tiny_ranges(1000);
    CHECK(v != NULL);
    if (!v) return;
    CHECK_EQ_INT(plan(v, 100000000), 0);
    free(v);
    /* The cap counts ranges as written: 17 that would merge into one are
     * still too many. */
    CHECK_EQ_INT(plan("bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,"
                      "14-14,15-15,16-16",
                      100),
                 0);
}

TEST(nothing_to_merge_leaves_the_ranges_alone)
{
    htd_range r[2] = {{7, 9}, {0, 5}};
    CHECK_EQ_INT(htd_range_coalesce(r, 2, 10), 2);
    CHECK_EQ_INT(r[0].first, 7);
    CHECK_EQ_INT(r[1].last, 5);
    CHECK_EQ_INT(htd_range_coalesce(r, 0, 10), 0); /* no ranges: nothing to send */
}

/* The bytes of n ranges over a representation of at most 64 bytes. */
static uint64_t bits(const htd_range *r, int n)
{
    uint64_t b = 0;
    for (int i = 0; i < n; i++)
        for (uint64_t x = r[i].first; x <= r[i].last; x++)
            b |= 1ull << x;
    return b;
}

TEST(random_sets_coalesce_to_the_same_bytes_in_order)
{
    uint64_t x = 0x13198a2e03707344ULL;
    for (int iter = 0; iter < 100000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t size = 1 + x % 64;
        int n = 1 + (int)((x >> 8) % HTD_MAX_RANGES);
        htd_range in[HTD_MAX_RANGES], out[HTD_MAX_RANGES];
        uint64_t total = 0;
        for (int i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint64_t a = x % size, b = (x >> 16) % size;
            /* Mostly short ranges, so that many sets stay within the size. */
            if ((x >> 32) % 4) b = a + (b % 4 < size - a ? b % 4 : size - 1 - a);
            in[i].first = a < b ? a : b;
            in[i].last = a < b ? b : a;
            total += in[i].last - in[i].first + 1;
        }
        memcpy(out, in, sizeof in);
        int m = htd_range_coalesce(out, n, size);
        if (total > size) {
            CHECK_EQ_INT(m, 0);
            continue;
        }
        CHECK(m >= 1 && m <= n);
        if (m < 1 || m > n) continue;
        /* The same bytes, each once, in parts that neither overlap nor touch. */
        CHECK(bits(out, m) == bits(in, n));
        uint64_t sum = 0;
        for (int i = 0; i < m; i++) {
            CHECK(out[i].first <= out[i].last && out[i].last < size);
            sum += out[i].last - out[i].first + 1;
            for (int j = i + 1; j < m; j++)
                CHECK(out[i].last + 1 < out[j].first || out[j].last + 1 < out[i].first);
        }
        CHECK(sum == (uint64_t)__builtin_popcountll(bits(in, n)));
        /* In the order of the first range of each. */
        int prev = -1;
        for (int i = 0; i < m; i++) {
            int first = -1;
            for (int j = 0; j < n && first < 0; j++)
                if (in[j].first >= out[i].first && in[j].last <= out[i].last) first = j;
            CHECK(first > prev);
            prev = first;
        }
        /* Nothing merged: nothing moved. */
        if (m == n) CHECK(memcmp(out, in, (size_t)n * sizeof *in) == 0);
    }
}

int main(void)
{
    RUN_TESTS();
}
