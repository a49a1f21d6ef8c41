/*
 * test_log.c - logfmt formatting (quoting, escaping, truncation), level
 * names, and log_emit writing one line per call to the fd given to log_init.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/error.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Format one pair into a roomy buffer and compare with want (length too). */
static void expect_pair(const char *key, const char *value, const char *want)
{
    char buf[256];
    size_t n;

    memset(buf, 'X', sizeof(buf));
    n = log_format_pair(buf, sizeof(buf), key, value);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_pair_plain(void **state)
{
    expect_pair("k", "v", " k=v");
    expect_pair("subsystem", "http", " subsystem=http");
    expect_pair("url", "http://127.0.0.1:8080/api/v1", " url=http://127.0.0.1:8080/api/v1");
    /* Bytes above 0x7f (UTF-8) are neither quoted nor escaped. */
    expect_pair("who", "J\xc3\xbcrgen", " who=J\xc3\xbcrgen");
}

static void test_pair_quoting(void **state)
{
    expect_pair("msg", "two words", " msg=\"two words\"");
    expect_pair("msg", "", " msg=\"\"");
    expect_pair("msg", NULL, " msg=\"\"");
    expect_pair("eq", "a=b", " eq=\"a=b\"");
    expect_pair("q", "say \"hi\"", " q=\"say \\\"hi\\\"\"");
    expect_pair("path", "C:\\dir", " path=\"C:\\\\dir\"");
    expect_pair("lead", " x", " lead=\" x\"");
}

static void test_pair_escapes(void **state)
{
    expect_pair("m", "a\nb", " m=\"a\\nb\"");
    expect_pair("m", "a\rb", " m=\"a\\rb\"");
    expect_pair("m", "a\tb", " m=\"a\\tb\"");
    expect_pair("m", "bell\x07", " m=\"bell\\x07\"");
    expect_pair("m", "\x01\x1f", " m=\"\\x01\\x1f\"");
    expect_pair("m", "del\x7f", " m=\"del\\x7f\"");
    /* A line can never be split, whatever the value holds. */
    expect_pair("m", "x\n\ny\"\\", " m=\"x\\n\\ny\\\"\\\\\"");
}

static void test_pair_truncation(void **state)
{
    char buf[8];
    char big[4];
    size_t n;

    /* Full text: ` key="a value"` = 14 bytes. */
    memset(buf, 'X', sizeof(buf));
    n = log_format_pair(buf, sizeof(buf), "key", "a value");
    assert_int_equal(n, 14);
    assert_string_equal(buf, " key=\"a");

    /* An escape cut in the middle still leaves a NUL-terminated prefix. */
    memset(big, 'X', sizeof(big));
    n = log_format_pair(big, sizeof(big), "k", "\x01");
    assert_int_equal(n, strlen(" k=\"\\x01\""));
    assert_memory_equal(big, " k=\0", 4);

    /* cap 1: only the terminator. */
    memset(buf, 'X', sizeof(buf));
    n = log_format_pair(buf, 1, "key", "v");
    assert_int_equal(n, 6);
    assert_string_equal(buf, "");
    assert_int_equal(buf[1], 'X');

    /* cap 0: nothing is written at all (buf may even be NULL). */
    n = log_format_pair(NULL, 0, "key", "two words");
    assert_int_equal(n, strlen(" key=\"two words\""));

    /* Exactly enough room: need + 1 bytes. */
    {
        char exact[7];
        n = log_format_pair(exact, sizeof(exact), "ab", "cde");
        assert_int_equal(n, 7);
        assert_string_equal(exact, " ab=cd");
    }
    {
        char exact[8];
        n = log_format_pair(exact, sizeof(exact), "ab", "cde");
        assert_int_equal(n, 7);
        assert_string_equal(exact, " ab=cde");
    }
}

static void test_level_parse(void **state)
{
    enum log_level level = LOG_LEVEL_ERROR;

    assert_int_equal(log_level_parse("debug", &level), 0);
    assert_int_equal(level, LOG_LEVEL_DEBUG);
    assert_int_equal(log_level_parse("info", &level), 0);
    assert_int_equal(level, LOG_LEVEL_INFO);
    assert_int_equal(log_level_parse("warn", &level), 0);
    assert_int_equal(level, LOG_LEVEL_WARN);
    assert_int_equal(log_level_parse("error", &level), 0);
    assert_int_equal(level, LOG_LEVEL_ERROR);
    assert_int_equal(log_level_parse("WARN", &level), 0);
    assert_int_equal(level, LOG_LEVEL_WARN);

    level = LOG_LEVEL_INFO;
    assert_int_equal(log_level_parse("warning", &level), OB_EINVAL);
    assert_int_equal(log_level_parse("", &level), OB_EINVAL);
    assert_int_equal(log_level_parse("trace", &level), OB_EINVAL);
    assert_int_equal(log_level_parse("info ", &level), OB_EINVAL);
    assert_int_equal(level, LOG_LEVEL_INFO); /* untouched on failure */
}

/* ---- log_emit through a pipe ---------------------------------------------- */

static int pipefd[2] = {-1, -1};

static int pipe_setup(void **state)
{
    if (pipe(pipefd) != 0)
        return -1;
    /* Non-blocking read end: "nothing written" reads as EAGAIN, not a hang. */
    if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) != 0)
        return -1;
    return 0;
}

static int pipe_teardown(void **state)
{
    log_init(LOG_LEVEL_INFO, 2);
    close(pipefd[0]);
    close(pipefd[1]);
    pipefd[0] = pipefd[1] = -1;
    return 0;
}

/* Read what is in the pipe now (NUL-terminated); returns its length or -1. */
static ssize_t drain(char *buf, size_t cap)
{
    ssize_t n = read(pipefd[0], buf, cap - 1);

    if (n < 0) {
        buf[0] = '\0';
        return -1;
    }
    buf[n] = '\0';
    return n;
}

/* "ts=2026-11-24T19:00:00.123Z" at the start of line; returns the rest. */
static const char *skip_timestamp(const char *line)
{
    static const char shape[] = "ts=dddd-dd-ddTdd:dd:dd.dddZ";

    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd')
            assert_true(isdigit((unsigned char)line[i]));
        else
            assert_int_equal(line[i], shape[i]);
    }
    return line + sizeof(shape) - 1;
}

static void test_emit_line(void **state)
{
    char buf[16384];
    ssize_t n;

    log_init(LOG_LEVEL_INFO, pipefd[1]);
    log_emit(LOG_LEVEL_INFO, "http", "ab12", "listening now", "url", "http://127.0.0.1:8080",
             "empty", "", "none", NULL, "note", "a \"quoted\"\nline", NULL);
    n = drain(buf, sizeof(buf));
    assert_true(n > 0);
    assert_string_equal(skip_timestamp(buf),
                        " level=info subsystem=http request_id=ab12 msg=\"listening now\""
                        " url=http://127.0.0.1:8080 empty=\"\" none=\"\""
                        " note=\"a \\\"quoted\\\"\\nline\"\n");
    /* Exactly one line. */
    assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
}

static void test_emit_without_request_id(void **state)
{
    char buf[4096];

    log_init(LOG_LEVEL_DEBUG, pipefd[1]);
    log_emit(LOG_LEVEL_ERROR, "store", NULL, "boom", NULL);
    assert_true(drain(buf, sizeof(buf)) > 0);
    assert_string_equal(skip_timestamp(buf), " level=error subsystem=store msg=boom\n");

    log_warn("config", "reloaded", "files", "3");
    assert_true(drain(buf, sizeof(buf)) > 0);
    assert_string_equal(skip_timestamp(buf), " level=warn subsystem=config msg=reloaded files=3\n");

    log_debug("engine", "tick");
    assert_true(drain(buf, sizeof(buf)) > 0);
    assert_string_equal(skip_timestamp(buf), " level=debug subsystem=engine msg=tick\n");
}

static void test_emit_drops_below_level(void **state)
{
    char buf[4096];

    log_init(LOG_LEVEL_WARN, pipefd[1]);
    assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
    log_emit(LOG_LEVEL_INFO, "http", NULL, "dropped", NULL);
    log_emit(LOG_LEVEL_DEBUG, "http", NULL, "dropped too", NULL);
    errno = 0;
    assert_int_equal(drain(buf, sizeof(buf)), -1);
    assert_int_equal(errno, EAGAIN);

    log_emit(LOG_LEVEL_WARN, "http", NULL, "kept", NULL);
    assert_true(drain(buf, sizeof(buf)) > 0);
    assert_string_equal(skip_timestamp(buf), " level=warn subsystem=http msg=kept\n");

    log_set_level(LOG_LEVEL_ERROR);
    assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);
    log_emit(LOG_LEVEL_WARN, "http", NULL, "now dropped", NULL);
    errno = 0;
    assert_int_equal(drain(buf, sizeof(buf)), -1);
    assert_int_equal(errno, EAGAIN);
}

static void test_emit_huge_value_stays_one_line(void **state)
{
    static char value[20000];
    static char buf[32768];
    ssize_t n;

    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    log_init(LOG_LEVEL_INFO, pipefd[1]);
    log_emit(LOG_LEVEL_INFO, "http", NULL, "big", "body", value, "after", "x", NULL);
    n = drain(buf, sizeof(buf));
    assert_true(n > 0);
    assert_true(n <= 8192);
    assert_int_equal(buf[n - 1], '\n');
    assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
    assert_non_null(strstr(buf, " msg=big body=vvvv"));
    assert_null(memchr(buf, '\0', (size_t)n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_plain),
        cmocka_unit_test(test_pair_quoting),
        cmocka_unit_test(test_pair_escapes),
        cmocka_unit_test(test_pair_truncation),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test_setup_teardown(test_emit_line, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown(test_emit_without_request_id, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown(test_emit_drops_below_level, pipe_setup, pipe_teardown),
        cmocka_unit_test_setup_teardown(test_emit_huge_value_stays_one_line, pipe_setup,
                                        pipe_teardown),
    };

    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
