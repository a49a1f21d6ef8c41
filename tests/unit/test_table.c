/*
 * test_table.c - the CLI's plain-text tables: column alignment with two
 * spaces between columns, "-" for NULL/empty cells, cells that never break
 * a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print t into a string (caller frees). */
static char *render(const struct table *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    assert_non_null(fp);
    table_print(t, fp);
    assert_int_equal(fclose(fp), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void expect_render(const struct table *t, const char *want)
{
    char *text = render(t);

    if (strcmp(text, want) != 0) {
        char shown[2048];
        snprintf(shown, sizeof(shown), "--- got ---\n%s--- want ---\n%s", text, want);
        free(text);
        fail_msg("%s", shown);
    }
    free(text);
}

static void test_alignment(void **state)
{
    static const char *const headers[] = {"ID", "NAME", "SCOPE"};
    static const char *const r1[] = {"1", "admin", "admin"};
    static const char *const r2[] = {"12", "ci", "read"};
    static const char *const r3[] = {"123", "deploy bot", "write"};
    struct table t;

    table_init(&t, 3, headers);
    table_add_row(&t, r1);
    table_add_row(&t, r2);
    table_add_row(&t, r3);
    assert_int_equal(t.rows, 3);
    expect_render(&t, "ID   NAME        SCOPE\n"
                      "1    admin       admin\n"
                      "12   ci          read\n"
                      "123  deploy bot  write\n");
    table_release(&t);
    assert_int_equal(t.rows, 0);
    assert_null(t.cells);
}

/* A header wider than every cell sets the width; the last column is never padded. */
static void test_header_wider(void **state)
{
    static const char *const headers[] = {"IDENTIFIER", "X"};
    static const char *const r1[] = {"a", "long last column"};
    struct table t;

    table_init(&t, 2, headers);
    table_add_row(&t, r1);
    expect_render(&t, "IDENTIFIER  X\n"
                      "a           long last column\n");
    table_release(&t);
}

static void test_null_and_empty_cells(void **state)
{
    static const char *const headers[] = {"USER", "TEAM", "NOTE"};
    static const char *const r1[] = {"alice", NULL, ""};
    static const char *const r2[] = {"", "platform", NULL};
    struct table t;

    table_init(&t, 3, headers);
    table_add_row(&t, r1);
    table_add_row(&t, r2);
    expect_render(&t, "USER   TEAM      NOTE\n"
                      "alice  -         -\n"
                      "-      platform  -\n");
    table_release(&t);
}

static void test_newlines_replaced(void **state)
{
    static const char *const headers[] = {"A", "B"};
    static const char *const r1[] = {"two\nlines", "tab\there"};
    static const char *const r2[] = {"cr\r\nlf", "x"};
    struct table t;
    char *text;
    size_t newlines = 0;

    table_init(&t, 2, headers);
    table_add_row(&t, r1);
    table_add_row(&t, r2);
    expect_render(&t, "A          B\n"
                      "two lines  tab here\n"
                      "cr  lf     x\n");
    text = render(&t);
    for (char *p = text; *p != '\0'; p++)
        newlines += *p == '\n';
    assert_int_equal(newlines, 3);
    free(text);
    table_release(&t);
}

/* Cells are copies: the caller's strings may change after add_row. */
static void test_cells_are_copied(void **state)
{
    static const char *const headers[] = {"K", "V"};
    char key[8] = "k1", value[8] = "v1";
    const char *row[2] = {key, value};
    struct table t;

    table_init(&t, 2, headers);
    table_add_row(&t, row);
    strcpy(key, "zz");
    strcpy(value, "zz");
    expect_render(&t, "K   V\n"
                      "k1  v1\n");
    table_release(&t);
}

/* Many rows (the cell array grows several times); output order is kept. */
static void test_many_rows(void **state)
{
    static const char *const headers[] = {"N", "SQUARE"};
    struct table t;
    char want[8192];
    size_t used = 0;
    char *text;

    table_init(&t, 2, headers);
    used += (size_t)snprintf(want + used, sizeof(want) - used, "N   SQUARE\n");
    for (int i = 0; i < 100; i++) {
        char n[16], sq[16];
        const char *row[2] = {n, sq};
        snprintf(n, sizeof(n), "%d", i);
        snprintf(sq, sizeof(sq), "%d", i * i);
        table_add_row(&t, row);
        used += (size_t)snprintf(want + used, sizeof(want) - used, "%-2s  %s\n", n, sq);
    }
    assert_int_equal(t.rows, 100);
    text = render(&t);
    assert_string_equal(text, want);
    free(text);
    table_release(&t);
}

/* A table without rows still prints its header line. */
static void test_no_rows(void **state)
{
    static const char *const headers[] = {"TEAM", "MEMBERS"};
    struct table t;

    table_init(&t, 2, headers);
    expect_render(&t, "TEAM  MEMBERS\n");
    table_release(&t);
}

static void test_single_column(void **state)
{
    static const char *const headers[] = {"NAME"};
    static const char *const r1[] = {"a-very-long-name"};
    static const char *const r2[] = {NULL};
    struct table t;

    table_init(&t, 1, headers);
    table_add_row(&t, r1);
    table_add_row(&t, r2);
    expect_render(&t, "NAME\n"
                      "a-very-long-name\n"
                      "-\n");
    table_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_header_wider),
        cmocka_unit_test(test_null_and_empty_cells),
        cmocka_unit_test(test_newlines_replaced),
        cmocka_unit_test(test_cells_are_copied),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_no_rows),
        cmocka_unit_test(test_single_column),
    };

    return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
