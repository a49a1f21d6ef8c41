/*
 * test_strbuf.c - the growable string buffer: growth past the first 64
 * bytes, formatted appends of any size, detach, reset and release.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

static void test_empty(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    struct strbuf sb2;

    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    assert_non_null(strbuf_str(&sb));
    assert_string_equal(strbuf_str(&sb), "");

    memset(&sb2, 0xab, sizeof(sb2));
    strbuf_init(&sb2);
    assert_null(sb2.buf);
    assert_int_equal(sb2.len, 0);
    assert_int_equal(sb2.cap, 0);
    assert_string_equal(strbuf_str(&sb2), "");

    /* Releasing an empty buffer is harmless, twice. */
    strbuf_release(&sb);
    strbuf_release(&sb);
    assert_null(sb.buf);
}

static void test_add_and_grow(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    char want[1001];

    strbuf_adds(&sb, "abc");
    assert_string_equal(strbuf_str(&sb), "abc");
    assert_int_equal(sb.len, 3);
    assert_true(sb.cap >= 4);
    strbuf_addch(&sb, '-');
    strbuf_add(&sb, "xyz", 2);
    assert_string_equal(sb.buf, "abc-xy");
    assert_int_equal(sb.len, 6);

    /* Past 64 bytes, one byte at a time, checked against a reference. */
    strbuf_reset(&sb);
    for (size_t i = 0; i < 1000; i++) {
        want[i] = (char)('a' + i % 26);
        strbuf_addch(&sb, want[i]);
        assert_int_equal(sb.len, i + 1);
        assert_true(sb.cap > sb.len);
        assert_int_equal(sb.buf[sb.len], '\0');
    }
    want[1000] = '\0';
    assert_string_equal(sb.buf, want);

    /* Adding nothing keeps the contents and the terminator. */
    strbuf_add(&sb, "", 0);
    assert_int_equal(sb.len, 1000);
    assert_string_equal(sb.buf, want);
    strbuf_release(&sb);
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.cap, 0);
}

static void test_add_binary(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_add(&sb, "a\0b", 3);
    assert_int_equal(sb.len, 3);
    assert_memory_equal(sb.buf, "a\0b\0", 4);
    strbuf_release(&sb);
}

static void test_add_large(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    size_t big = 3 * 1024 * 1024 + 17;
    char *data = malloc(big);

    assert_non_null(data);
    memset(data, 'q', big);
    strbuf_adds(&sb, "head:");
    strbuf_add(&sb, data, big);
    assert_int_equal(sb.len, big + 5);
    assert_memory_equal(sb.buf, "head:qqq", 8);
    assert_int_equal(sb.buf[sb.len - 1], 'q');
    assert_int_equal(sb.buf[sb.len], '\0');
    assert_int_equal(strlen(sb.buf), big + 5);
    strbuf_release(&sb);
    free(data);
}

static void test_addf(void **state)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_addf(&sb, "%d-%s", 42, "x");
    assert_string_equal(strbuf_str(&sb), "42-x");
    assert_int_equal(sb.len, 4);
    strbuf_addf(&sb, "%s", "");
    assert_string_equal(strbuf_str(&sb), "42-x");
    assert_int_equal(sb.len, 4);
    strbuf_addf(&sb, "|%05.1f|%llu", 3.14159, 18446744073709551615ULL);
    assert_string_equal(strbuf_str(&sb), "42-x|003.1|18446744073709551615");
    assert_int_equal(sb.len, strlen("42-x|003.1|18446744073709551615"));
    strbuf_release(&sb);
}

/* Formatted text just below, at and past the room left in the buffer. */
static void test_addf_boundaries(void **state)
{
    for (size_t pre = 0; pre < 70; pre++) {
        for (size_t fmtlen = 55; fmtlen < 200; fmtlen += 7) {
            struct strbuf sb = STRBUF_INIT;
            char *piece = malloc(fmtlen + 1);
            char *want = malloc(pre + fmtlen + 1);

            assert_non_null(piece);
            assert_non_null(want);
            memset(piece, 'f', fmtlen);
            piece[fmtlen] = '\0';
            memset(want, 'p', pre);
            memcpy(want + pre, piece, fmtlen + 1);
            for (size_t i = 0; i < pre; i++)
                strbuf_addch(&sb, 'p');
            strbuf_addf(&sb, "%s", piece);
            assert_int_equal(sb.len, pre + fmtlen);
            assert_string_equal(sb.buf, want);
            strbuf_release(&sb);
            free(piece);
            free(want);
        }
    }
}

static void test_addf_large(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    size_t big = 100000;
    char *piece = malloc(big + 1);

    assert_non_null(piece);
    memset(piece, 'L', big);
    piece[big] = '\0';
    strbuf_adds(&sb, "<");
    strbuf_addf(&sb, "%s>%d", piece, 7);
    assert_int_equal(sb.len, big + 3);
    assert_int_equal(sb.buf[0], '<');
    assert_int_equal(sb.buf[big], 'L');
    assert_string_equal(sb.buf + big + 1, ">7");
    strbuf_release(&sb);
    free(piece);
}

static void test_reset(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    size_t cap;
    char *before;

    strbuf_adds(&sb, "some text that is long enough to need more than sixty-four bytes");
    cap = sb.cap;
    before = sb.buf;
    strbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_string_equal(strbuf_str(&sb), "");
    /* The allocation is kept for reuse. */
    assert_ptr_equal(sb.buf, before);
    assert_int_equal(sb.cap, cap);
    strbuf_adds(&sb, "again");
    assert_string_equal(strbuf_str(&sb), "again");
    strbuf_release(&sb);

    /* Resetting a never-used buffer is fine. */
    strbuf_reset(&sb);
    assert_string_equal(strbuf_str(&sb), "");
}

static void test_detach(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    size_t len = 99;
    char *s;

    strbuf_addf(&sb, "id=%d", 7);
    s = strbuf_detach(&sb, &len);
    assert_string_equal(s, "id=7");
    assert_int_equal(len, 4);
    /* The buffer is empty again and reusable; the string is the caller's. */
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.cap, 0);
    strbuf_adds(&sb, "next");
    assert_string_equal(strbuf_str(&sb), "next");
    assert_string_equal(s, "id=7");
    free(s);
    strbuf_release(&sb);

    /* Detaching an empty buffer yields a malloc'd "" (never NULL). */
    s = strbuf_detach(&sb, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);

    /* len may be NULL. */
    strbuf_adds(&sb, "x");
    s = strbuf_detach(&sb, NULL);
    assert_string_equal(s, "x");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),      cmocka_unit_test(test_add_and_grow),
        cmocka_unit_test(test_add_binary), cmocka_unit_test(test_add_large),
        cmocka_unit_test(test_addf),       cmocka_unit_test(test_addf_boundaries),
        cmocka_unit_test(test_addf_large), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_detach),
    };

    return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
