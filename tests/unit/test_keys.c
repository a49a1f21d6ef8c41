/*
 * test_keys.c - SSH public key lines and files (src/keys/parse.c), the cache
 * file (src/keys/cache.c): real keys made with ssh-keygen in
 * tests/unit/fixtures/keys/ (NAME.pub and the fingerprint ssh-keygen -lf
 * printed, NAME.fp), and every refusal with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "keys/keys.h"
#include "util/error.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIXTURES "tests/unit/fixtures/keys/"

static char *slurp(const char *name)
{
    char path[256];
    FILE *fp;
    char *buf = calloc(1, 65536);
    size_t n;

    snprintf(path, sizeof(path), FIXTURES "%s", name);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

/* The fixture's line without its newline. */
static char *fixture_line(const char *name)
{
    char *s = slurp(name);
    s[strcspn(s, "\n")] = '\0';
    return s;
}

static void expect_ok(const char *name, const char *type, unsigned bits)
{
    char pub[64], fpname[64];
    struct keys_key k;
    struct ob_error err = {0};
    char *line, *fp, *formatted;

    snprintf(pub, sizeof(pub), "%s.pub", name);
    snprintf(fpname, sizeof(fpname), "%s.fp", name);
    line = slurp(pub);
    fp = fixture_line(fpname);
    assert_int_equal(keys_parse_line(line, strlen(line), &k, &err), 0);
    assert_string_equal(k.type, type);
    assert_int_equal(k.bits, bits);
    assert_string_equal(k.fingerprint, fp);
    assert_non_null(strstr(k.comment, "@opsbell"));
    formatted = keys_key_format(&k);
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(formatted, line);
    free(formatted);
    keys_key_release(&k);
    keys_key_release(&k); /* twice is harmless */
    free(line);
    free(fp);
}

static void test_accepts_real_keys(void **state)
{
    expect_ok("ed25519", "ssh-ed25519", 256);
    expect_ok("ecdsa256", "ecdsa-sha2-nistp256", 256);
    expect_ok("ecdsa384", "ecdsa-sha2-nistp384", 384);
    expect_ok("ecdsa521", "ecdsa-sha2-nistp521", 521);
    expect_ok("rsa3072", "ssh-rsa", 3072);
    expect_ok("rsa4096", "ssh-rsa", 4096);
}

/* line must be refused with a reason containing want. */
static void expect_refused(const char *line, const char *want)
{
    struct keys_key k;
    struct ob_error err = {0};
    int rc = keys_parse_line(line, strlen(line), &k, &err);

    if (rc == 0)
        fail_msg("accepted: %s", line);
    if (strstr(err.msg, want) == NULL)
        fail_msg("reason '%s' lacks '%s' for: %.80s", err.msg, want, line);
}

static char *with(const char *prefix, const char *name, const char *suffix)
{
    char *key = fixture_line(name);
    size_t cap = strlen(prefix) + strlen(key) + strlen(suffix) + 1;
    char *s = malloc(cap);

    assert_non_null(s);
    snprintf(s, cap, "%s%s%s", prefix, key, suffix);
    free(key);
    return s;
}

static void test_refuses_weak_and_unsupported(void **state)
{
    char *s;

    s = fixture_line("rsa2048.pub");
    expect_refused(s, "ssh-rsa key of 2048 bits (at least 3072)");
    free(s);
    s = fixture_line("dsa.pub");
    expect_refused(s, "DSA keys are not accepted");
    free(s);
    expect_refused("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t x",
                   "security-key");
    expect_refused("ssh-ed25519-cert-v01@openssh.com AAAA x", "certificates");
    expect_refused("ssh-foo AAAA", "unsupported key type 'ssh-foo'");
}

static void test_refuses_options(void **state)
{
    char *s;

    s = with("command=\"/bin/sh\" ", "ed25519.pub", "");
    expect_refused(s, "options before the key type");
    free(s);
    s = with("from=\"10.0.0.0/8\" ", "ed25519.pub", "");
    expect_refused(s, "options before the key type");
    free(s);
    s = with("no-pty ", "ed25519.pub", "");
    expect_refused(s, "options before the key type");
    free(s);
    s = with("restrict,command=\"x y\" ", "rsa3072.pub", "");
    expect_refused(s, "options before the key type");
    free(s);
}

static void test_refuses_two_keys_and_bad_comments(void **state)
{
    char *a = fixture_line("ed25519.pub"), *b = fixture_line("ecdsa256.pub");
    char line[4096];

    snprintf(line, sizeof(line), "%s %s", a, b);
    expect_refused(line, "more than one key on a line");
    /* The second key without its type still is a key. */
    snprintf(line, sizeof(line), "%s %s", a, strchr(b, ' ') + 1);
    expect_refused(line, "more than one key on a line");
    snprintf(line, sizeof(line), "%s bad\x01comment", a);
    expect_refused(line, "control character");
    snprintf(line, sizeof(line), "%s tab\tin comment", a);
    expect_refused(line, "control character");
    snprintf(line, sizeof(line), "%s \xff\xfe", a);
    expect_refused(line, "UTF-8");
    /* A comment mentioning a key type in words is fine. */
    struct keys_key k;
    snprintf(line, sizeof(line), "%s alice's ssh-ed25519 key (laptop) \xc3\xa9t\xc3\xa9", a);
    assert_int_equal(keys_parse_line(line, strlen(line), &k, NULL), 0);
    assert_string_equal(k.comment,
                        "test-ed25519@opsbell alice's ssh-ed25519 key (laptop) \xc3\xa9t\xc3\xa9");
    keys_key_release(&k);
    /* No comment at all; CRLF. */
    snprintf(line, sizeof(line), "%.*s\r\n", (int)(strrchr(a, ' ') - a), a);
    assert_int_equal(keys_parse_line(line, strlen(line), &k, NULL), 0);
    assert_string_equal(k.comment, "");
    keys_key_release(&k);
    free(a);
    free(b);
}

static void test_refuses_garbage_and_tampered_blobs(void **state)
{
    char *ed = fixture_line("ed25519.pub"), *ec = fixture_line("ecdsa256.pub");
    char line[4096];

    expect_refused("", "empty line");
    expect_refused("   \t ", "empty line");
    expect_refused("hello world", "not a public key");
    expect_refused("ssh-ed25519", "without its base64 blob");
    expect_refused("ssh-ed25519 !!!!", "not valid base64");
    expect_refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL0lPeCbzzpXy1NKu7x5UhHIP1MTZV5knemwdO6e",
                   "truncated");
    /* The ed25519 blob under another type name. */
    snprintf(line, sizeof(line), "ssh-rsa %s", strchr(ed, ' ') + 1);
    expect_refused(line, "blob holds another key type");
    /* A nistp256 blob claimed as nistp384. */
    snprintf(line, sizeof(line), "ecdsa-sha2-nistp384 %s", strchr(ec, ' ') + 1);
    expect_refused(line, "blob holds another key type");
    /* A blob with trailing bytes: ed25519 + 3 more bytes (4 base64 characters). */
    snprintf(line, sizeof(line), "%.*sAAAA", (int)(strrchr(ed, ' ') - ed), ed);
    expect_refused(line, "3 trailing bytes");
    /* Non-canonical padding bits. */
    expect_refused("ssh-ed25519 AB==", "not valid base64");
    char big[KEYS_LINE_MAX + 20];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "ssh-rsa ", 8);
    expect_refused(big, "longer than");
    free(ed);
    free(ec);
}

static void test_file_all_or_nothing(void **state)
{
    char *ed = fixture_line("ed25519.pub"), *rsa = fixture_line("rsa3072.pub");
    char *weak = fixture_line("rsa2048.pub");
    char data[16384];
    struct keys_file f;

    snprintf(data, sizeof(data), "# alice's keys\n\n%s\n  \n%s\n", ed, rsa);
    assert_int_equal(keys_parse_file(data, strlen(data), &f), 0);
    assert_int_equal(f.problem_count, 0);
    assert_int_equal(f.count, 2);
    assert_string_equal(f.keys[1].type, "ssh-rsa");
    keys_file_release(&f);

    /* One bad line: the whole file is refused, every bad line named. */
    snprintf(data, sizeof(data), "%s\n%s\ngarbage\n", ed, weak);
    assert_int_equal(keys_parse_file(data, strlen(data), &f), 0);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.problem_count, 2);
    assert_int_equal(f.problems[0].line, 2);
    assert_string_equal(f.problems[0].message, "ssh-rsa key of 2048 bits (at least 3072)");
    assert_int_equal(f.problems[1].line, 3);
    keys_file_release(&f);

    assert_int_equal(keys_parse_file("# nothing\n", 10, &f), 0);
    assert_int_equal(f.count, 0);
    assert_int_equal(f.problem_count, 1);
    assert_string_equal(f.problems[0].message, "no key in the file");
    keys_file_release(&f);
    keys_file_release(&f);
    free(ed);
    free(rsa);
    free(weak);
}

static void test_cache_write_lookup(void **state)
{
    char dir[] = "/tmp/opsbell-test-keys-XXXXXX";
    char path[256], out[256];
    struct keys_entries e = {0};
    struct ob_error err = {0};
    char buf[4096];
    int fd, n;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/" KEYS_CACHE_NAME, dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    assert_int_equal(keys_cache_lookup(path, "alice", 1, &err), OB_ENOTFOUND);
    assert_int_equal(keys_entries_add(&e, "zed", "ssh-ed25519 AAAAz z"), 0);
    assert_int_equal(keys_entries_add(&e, "alice", "ssh-ed25519 AAAA1 first"), 0);
    assert_int_equal(keys_entries_add(&e, "alice2", "ssh-ed25519 AAAA3 other"), 0);
    assert_int_equal(keys_entries_add(&e, "alice", "ssh-ed25519 AAAA2 second"), 0);
    assert_int_equal(keys_entries_add(&e, "al", "ssh-ed25519 AAAA4 short"), 0);
    assert_int_equal(keys_cache_write(path, &e, &err), 0);
    keys_entries_release(&e);

    const char *users[] = {"alice", "al", "alice2", "zed", "nobody", "a", "zzz"};
    const char *want[] = {"ssh-ed25519 AAAA1 first\nssh-ed25519 AAAA2 second\n",
                          "ssh-ed25519 AAAA4 short\n",
                          "ssh-ed25519 AAAA3 other\n",
                          "ssh-ed25519 AAAAz z\n",
                          "",
                          "",
                          ""};
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        n = keys_cache_lookup(path, users[i], fd, &err);
        assert_true(n >= 0);
        lseek(fd, 0, SEEK_SET);
        ssize_t got = read(fd, buf, sizeof(buf) - 1);
        assert_true(got >= 0);
        buf[got] = '\0';
        close(fd);
        assert_string_equal(buf, want[i]);
    }
    assert_int_equal(keys_cache_read(path, &e, &err), 0);
    assert_int_equal(e.count, 5);
    assert_string_equal(e.items[0].user, "al");
    assert_string_equal(e.items[4].user, "zed");
    keys_entries_release(&e);

    /* An empty cache: every user is unknown. */
    assert_int_equal(keys_cache_write(path, &e, &err), 0);
    fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(keys_cache_lookup(path, "alice", fd, &err), 0);
    close(fd);
    unlink(path);
    unlink(out);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_real_keys),
        cmocka_unit_test(test_refuses_weak_and_unsupported),
        cmocka_unit_test(test_refuses_options),
        cmocka_unit_test(test_refuses_two_keys_and_bad_comments),
        cmocka_unit_test(test_refuses_garbage_and_tampered_blobs),
        cmocka_unit_test(test_file_all_or_nothing),
        cmocka_unit_test(test_cache_write_lookup),
    };
    return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
