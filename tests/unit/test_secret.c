/*
 * test_secret.c - secrets by reference (env:NAME, file:PATH): resolution,
 * every failure, and that no error message ever carries the secret value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/error.h"
#include "util/secret.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_NAME    "OPSBELL_TEST_SECRET_7f3a"
#define ENV_MISSING "OPSBELL_TEST_SECRET_UNSET_91c2"
#define VALUE       "s3cr3t-VALUE-never-print-me"

static char tmpdir[PATH_MAX];

static int setup(void **state)
{
    const char *parent = getenv("OPSBELL_TEST_TMP");

    if (parent == NULL || parent[0] == '\0')
        parent = "/tmp";
    if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/test_secret.XXXXXX", parent) >= sizeof(tmpdir))
        return -1;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    unsetenv(ENV_NAME);
    return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to tmpdir/name; returns the full path (static buffer). */
static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[PATH_MAX];
    FILE *fp;

    assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", tmpdir, name) < sizeof(path));
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static void assert_zeroed(const struct secret *s)
{
    assert_null(s->ref);
    assert_null(s->value);
    assert_int_equal(s->len, 0);
}

static void test_ref_is_valid(void **state)
{
    assert_true(secret_ref_is_valid("env:X"));
    assert_true(secret_ref_is_valid("env:SLACK_BOT_TOKEN"));
    assert_true(secret_ref_is_valid("file:x"));
    assert_true(secret_ref_is_valid("file:/etc/opsbell/smtp.pw"));
    assert_false(secret_ref_is_valid(NULL));
    assert_false(secret_ref_is_valid(""));
    assert_false(secret_ref_is_valid("env:"));
    assert_false(secret_ref_is_valid("file:"));
    assert_false(secret_ref_is_valid("env"));
    assert_false(secret_ref_is_valid("ENV:X"));
    assert_false(secret_ref_is_valid("File:x"));
    assert_false(secret_ref_is_valid("envX"));
    assert_false(secret_ref_is_valid("hunter2"));
    assert_false(secret_ref_is_valid(" env:X"));
}

static void test_env(void **state)
{
    struct secret s;
    struct ob_error err = {0};

    assert_int_equal(setenv(ENV_NAME, VALUE, 1), 0);
    assert_int_equal(secret_resolve("env:" ENV_NAME, NULL, &s, &err), 0);
    assert_string_equal(s.ref, "env:" ENV_NAME);
    assert_string_equal(s.value, VALUE);
    assert_int_equal(s.len, strlen(VALUE));
    /* A copy, not the environment's own string. */
    assert_ptr_not_equal(s.value, getenv(ENV_NAME));
    secret_release(&s);
    assert_zeroed(&s);

    /* An empty variable is set: it resolves to an empty secret. */
    assert_int_equal(setenv(ENV_NAME, "", 1), 0);
    assert_int_equal(secret_resolve("env:" ENV_NAME, NULL, &s, &err), 0);
    assert_string_equal(s.value, "");
    assert_int_equal(s.len, 0);
    secret_release(&s);
}

static void test_env_missing(void **state)
{
    struct secret s;
    struct ob_error err = {0};

    unsetenv(ENV_MISSING);
    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(secret_resolve("env:" ENV_MISSING, NULL, &s, &err), OB_EINVAL);
    assert_int_equal(err.code, OB_EINVAL);
    assert_non_null(strstr(err.msg, ENV_MISSING));
    assert_zeroed(&s);

    /* err may be NULL. */
    assert_int_equal(secret_resolve("env:" ENV_MISSING, NULL, &s, NULL), OB_EINVAL);
    assert_zeroed(&s);
}

static void test_file_relative(void **state)
{
    struct secret s;
    struct ob_error err = {0};

    write_file("pw.txt", VALUE "\n", strlen(VALUE) + 1);
    assert_int_equal(secret_resolve("file:pw.txt", tmpdir, &s, &err), 0);
    assert_string_equal(s.ref, "file:pw.txt");
    assert_string_equal(s.value, VALUE);
    assert_int_equal(s.len, strlen(VALUE));
    secret_release(&s);
}

static void test_file_newlines(void **state)
{
    struct secret s;
    struct ob_error err = {0};
    const char *path;
    char ref[PATH_MAX + 8];

    /* CRLF is dropped as one line ending. */
    write_file("crlf.txt", "abc\r\n", 5);
    assert_int_equal(secret_resolve("file:crlf.txt", tmpdir, &s, &err), 0);
    assert_string_equal(s.value, "abc");
    assert_int_equal(s.len, 3);
    secret_release(&s);

    /* Only one trailing newline goes; inner ones stay. */
    write_file("two.txt", "a\nb\n\n", 5);
    assert_int_equal(secret_resolve("file:two.txt", tmpdir, &s, &err), 0);
    assert_memory_equal(s.value, "a\nb\n", 5);
    assert_int_equal(s.len, 4);
    secret_release(&s);

    /* No newline at all: taken as is. */
    write_file("plain.txt", "xyz", 3);
    assert_int_equal(secret_resolve("file:plain.txt", tmpdir, &s, &err), 0);
    assert_string_equal(s.value, "xyz");
    secret_release(&s);

    /* An empty file is an empty secret. */
    write_file("empty.txt", "", 0);
    assert_int_equal(secret_resolve("file:empty.txt", tmpdir, &s, &err), 0);
    assert_string_equal(s.value, "");
    assert_int_equal(s.len, 0);
    secret_release(&s);

    /* An absolute path ignores base_dir. */
    path = write_file("abs.txt", "absolute\n", 9);
    assert_true((size_t)snprintf(ref, sizeof(ref), "file:%s", path) < sizeof(ref));
    assert_int_equal(secret_resolve(ref, "/nonexistent-base-dir", &s, &err), 0);
    assert_string_equal(s.value, "absolute");
    secret_release(&s);
}

static void test_file_unreadable(void **state)
{
    struct secret s;
    struct ob_error err = {0};
    char sub[PATH_MAX];

    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(secret_resolve("file:does-not-exist", tmpdir, &s, &err), OB_EIO);
    assert_int_equal(err.code, OB_EIO);
    assert_non_null(strstr(err.msg, "does-not-exist"));
    assert_zeroed(&s);

    /* A directory opens but cannot be read. */
    assert_true((size_t)snprintf(sub, sizeof(sub), "%s/adir", tmpdir) < sizeof(sub));
    assert_int_equal(mkdir(sub, 0700), 0);
    ob_error_clear(&err);
    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(secret_resolve("file:adir", tmpdir, &s, &err), OB_EIO);
    assert_int_equal(err.code, OB_EIO);
    assert_non_null(strstr(err.msg, "adir"));
    assert_zeroed(&s);
}

static void test_file_size_cap(void **state)
{
    struct secret s;
    struct ob_error err = {0};
    char *data = malloc(SECRET_FILE_MAX + 2);

    assert_non_null(data);
    memset(data, 'Z', SECRET_FILE_MAX + 2);

    /* Exactly the cap is accepted. */
    write_file("max.bin", data, SECRET_FILE_MAX);
    assert_int_equal(secret_resolve("file:max.bin", tmpdir, &s, &err), 0);
    assert_int_equal(s.len, SECRET_FILE_MAX);
    assert_int_equal(s.value[SECRET_FILE_MAX], '\0');
    secret_release(&s);

    /* One byte more is refused, and the message shows none of the bytes. */
    write_file("big.bin", data, SECRET_FILE_MAX + 1);
    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(secret_resolve("file:big.bin", tmpdir, &s, &err), OB_ETOOLARGE);
    assert_int_equal(err.code, OB_ETOOLARGE);
    assert_non_null(strstr(err.msg, "big.bin"));
    assert_null(strstr(err.msg, "ZZ"));
    assert_zeroed(&s);
    free(data);
}

static void test_inline_refused(void **state)
{
    struct secret s;
    struct ob_error err = {0};
    static const char *const bad[] = {VALUE, "", "env:", "file:", "ENV:" VALUE, "xoxb-" VALUE};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&s, 0x5a, sizeof(s));
        ob_error_clear(&err);
        assert_int_equal(secret_resolve(bad[i], tmpdir, &s, &err), OB_EINVAL);
        assert_int_equal(err.code, OB_EINVAL);
        assert_true(err.msg[0] != '\0');
        assert_null(strstr(err.msg, VALUE));
        assert_zeroed(&s);
    }
    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(secret_resolve(NULL, NULL, &s, &err), OB_EINVAL);
    assert_zeroed(&s);
}

/* Failures that happen after the value was read must not echo it either. */
static void test_messages_never_hold_value(void **state)
{
    struct secret s;
    struct ob_error err = {0};
    char longbase[PATH_MAX + 16];

    assert_int_equal(setenv(ENV_NAME, VALUE, 1), 0);
    /* A file whose path is too long: the message may name the ref, not a value. */
    memset(longbase, 'd', sizeof(longbase) - 1);
    longbase[0] = '/';
    longbase[sizeof(longbase) - 1] = '\0';
    assert_int_equal(secret_resolve("file:x", longbase, &s, &err), OB_EINVAL);
    assert_null(strstr(err.msg, VALUE));
    assert_zeroed(&s);

    /* Missing variable named like the value of another: only the name shows. */
    ob_error_clear(&err);
    assert_int_equal(secret_resolve("env:" ENV_MISSING, NULL, &s, &err), OB_EINVAL);
    assert_null(strstr(err.msg, VALUE));
}

static void test_release_null_and_twice(void **state)
{
    struct secret s;
    struct ob_error err = {0};

    secret_release(NULL);
    assert_int_equal(setenv(ENV_NAME, VALUE, 1), 0);
    assert_int_equal(secret_resolve("env:" ENV_NAME, NULL, &s, &err), 0);
    secret_release(&s);
    assert_zeroed(&s);
    secret_release(&s);
    assert_zeroed(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_is_valid),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_missing),
        cmocka_unit_test(test_file_relative),
        cmocka_unit_test(test_file_newlines),
        cmocka_unit_test(test_file_unreadable),
        cmocka_unit_test(test_file_size_cap),
        cmocka_unit_test(test_inline_refused),
        cmocka_unit_test(test_messages_never_hold_value),
        cmocka_unit_test(test_release_null_and_twice),
    };

    return cmocka_run_group_tests_name("secret", tests, setup, teardown);
}
