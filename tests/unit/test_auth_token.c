/*
 * test_auth_token.c - the pure parts of API tokens: scope names, secret
 * format and uniqueness, SHA-256 hashing, name rules, and authorization by
 * scope and team. (Authentication against a store is tested with the store.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_scope_parse(void **state)
{
    enum token_scope scope = SCOPE_NONE;

    assert_int_equal(token_scope_parse("read", &scope), 0);
    assert_int_equal(scope, SCOPE_READ);
    assert_int_equal(token_scope_parse("write", &scope), 0);
    assert_int_equal(scope, SCOPE_WRITE);
    assert_int_equal(token_scope_parse("admin", &scope), 0);
    assert_int_equal(scope, SCOPE_ADMIN);

    scope = SCOPE_WRITE;
    assert_int_equal(token_scope_parse("none", &scope), OB_EINVAL);
    assert_int_equal(token_scope_parse("", &scope), OB_EINVAL);
    assert_int_equal(token_scope_parse(NULL, &scope), OB_EINVAL);
    assert_int_equal(token_scope_parse("Admin", &scope), OB_EINVAL);
    assert_int_equal(token_scope_parse("admin ", &scope), OB_EINVAL);
    assert_int_equal(token_scope_parse("rea", &scope), OB_EINVAL);
    assert_int_equal(token_scope_parse("superuser", &scope), OB_EINVAL);
    assert_int_equal(scope, SCOPE_WRITE); /* untouched on failure */
}

static void test_scope_name(void **state)
{
    assert_string_equal(token_scope_name(SCOPE_NONE), "none");
    assert_string_equal(token_scope_name(SCOPE_READ), "read");
    assert_string_equal(token_scope_name(SCOPE_WRITE), "write");
    assert_string_equal(token_scope_name(SCOPE_ADMIN), "admin");
    assert_string_equal(token_scope_name((enum token_scope)4), "none");
    assert_string_equal(token_scope_name((enum token_scope)99), "none");

    /* Names and parsing agree. */
    for (int s = SCOPE_READ; s <= SCOPE_ADMIN; s++) {
        enum token_scope back;
        assert_int_equal(token_scope_parse(token_scope_name((enum token_scope)s), &back), 0);
        assert_int_equal(back, s);
    }
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void test_generate_format(void **state)
{
    char secret[TOKEN_SECRET_LEN + 1 + 8];

    for (int n = 0; n < 200; n++) {
        memset(secret, 'X', sizeof(secret));
        assert_int_equal(token_generate(secret, TOKEN_SECRET_LEN + 1), 0);
        assert_int_equal(strlen(secret), TOKEN_SECRET_LEN);
        assert_int_equal(strlen(secret), 47);
        assert_memory_equal(secret, "obt_", 4);
        for (size_t i = 4; i < TOKEN_SECRET_LEN; i++)
            assert_true(is_b64url(secret[i]));
        /* 256 bits = 42 full characters + 4 bits: the last character's two low
         * bits are zero, so it is one of 16 characters. */
        assert_non_null(strchr("AEIMQUYcgkosw048", secret[TOKEN_SECRET_LEN - 1]));
        /* Nothing written past the terminator. */
        assert_int_equal(secret[TOKEN_SECRET_LEN + 1], 'X');
    }
}

static void test_generate_small_buffer(void **state)
{
    char secret[TOKEN_SECRET_LEN + 1];

    memset(secret, 'X', sizeof(secret));
    assert_int_equal(token_generate(secret, TOKEN_SECRET_LEN), OB_EINVAL);
    assert_int_equal(secret[0], 'X');
    assert_int_equal(token_generate(secret, 0), OB_EINVAL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_generate_unique(void **state)
{
    enum { N = 2000 };
    static char secrets[N][TOKEN_SECRET_LEN + 1];

    for (int i = 0; i < N; i++)
        assert_int_equal(token_generate(secrets[i], sizeof(secrets[i])), 0);
    qsort(secrets, N, sizeof(secrets[0]), cmp_str);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(secrets[i - 1], secrets[i]);
}

static void test_hash_hex(void **state)
{
    char hex[TOKEN_HASH_HEX_LEN + 1 + 4];

    /* FIPS 180-2 test vectors. */
    memset(hex, 'X', sizeof(hex));
    token_hash_hex("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(hex[TOKEN_HASH_HEX_LEN + 1], 'X');
    token_hash_hex("", hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    token_hash_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* A token-shaped secret: 64 lowercase hex digits, and stable. */
    {
        char again[TOKEN_HASH_HEX_LEN + 1];
        const char *secret = "obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        token_hash_hex(secret, hex);
        token_hash_hex(secret, again);
        assert_string_equal(hex, again);
        assert_int_equal(strlen(hex), TOKEN_HASH_HEX_LEN);
        assert_int_equal(strspn(hex, "0123456789abcdef"), TOKEN_HASH_HEX_LEN);
    }
}

static void test_name_is_valid(void **state)
{
    char name[TOKEN_NAME_MAX + 2];

    assert_true(token_name_is_valid("a"));
    assert_true(token_name_is_valid("ci-bot"));
    assert_true(token_name_is_valid("deploy bot"));
    assert_true(token_name_is_valid("alice@example.com"));
    assert_true(token_name_is_valid("team:platform.v2_ro"));
    assert_true(token_name_is_valid("ABC-xyz-019"));

    memset(name, 'n', TOKEN_NAME_MAX);
    name[TOKEN_NAME_MAX] = '\0';
    assert_true(token_name_is_valid(name));
    name[TOKEN_NAME_MAX] = 'n';
    name[TOKEN_NAME_MAX + 1] = '\0';
    assert_false(token_name_is_valid(name));

    assert_false(token_name_is_valid(NULL));
    assert_false(token_name_is_valid(""));
    assert_false(token_name_is_valid("a/b"));
    assert_false(token_name_is_valid("a\tb"));
    assert_false(token_name_is_valid("a\nb"));
    assert_false(token_name_is_valid("quote\""));
    assert_false(token_name_is_valid("back\\slash"));
    assert_false(token_name_is_valid("J\xc3\xbcrgen"));
    assert_false(token_name_is_valid("semi;colon"));
    assert_false(token_name_is_valid("a=b"));
}

/* ---- authorization -------------------------------------------------------------- */

static struct auth_principal principal(enum token_scope scope, const char *team)
{
    struct auth_principal p;

    memset(&p, 0, sizeof(p));
    p.token_id = 7;
    p.scope = scope;
    snprintf(p.name, sizeof(p.name), "ci");
    snprintf(p.team, sizeof(p.team), "%s", team);
    snprintf(p.actor, sizeof(p.actor), "token:ci");
    return p;
}

static void expect_allowed(const struct auth_principal *p, enum token_scope need, const char *team)
{
    struct ob_error err;

    ob_error_clear(&err);
    assert_int_equal(auth_authorize(p, need, team, &err), 0);
    assert_int_equal(err.code, 0);
}

static void expect_forbidden(const struct auth_principal *p, enum token_scope need,
                             const char *team, const char *want)
{
    struct ob_error err;

    ob_error_clear(&err);
    assert_int_equal(auth_authorize(p, need, team, &err), OB_EFORBIDDEN);
    assert_int_equal(err.code, OB_EFORBIDDEN);
    assert_string_equal(err.msg, want);
    /* err may be NULL. */
    assert_int_equal(auth_authorize(p, need, team, NULL), OB_EFORBIDDEN);
}

static void test_authorize_scope(void **state)
{
    struct auth_principal read = principal(SCOPE_READ, "");
    struct auth_principal write = principal(SCOPE_WRITE, "");
    struct auth_principal admin = principal(SCOPE_ADMIN, "");

    expect_allowed(&read, SCOPE_NONE, NULL);
    expect_allowed(&read, SCOPE_READ, NULL);
    expect_allowed(&read, SCOPE_READ, "platform");
    expect_forbidden(&read, SCOPE_WRITE, NULL, "token 'ci' has scope read; this needs write");
    expect_forbidden(&read, SCOPE_ADMIN, "platform", "token 'ci' has scope read; this needs admin");

    expect_allowed(&write, SCOPE_READ, NULL);
    expect_allowed(&write, SCOPE_WRITE, "payments");
    expect_forbidden(&write, SCOPE_ADMIN, NULL, "token 'ci' has scope write; this needs admin");

    expect_allowed(&admin, SCOPE_READ, NULL);
    expect_allowed(&admin, SCOPE_WRITE, NULL);
    expect_allowed(&admin, SCOPE_ADMIN, NULL);
    expect_allowed(&admin, SCOPE_ADMIN, "any-team");
}

static void test_authorize_team(void **state)
{
    struct auth_principal team_admin = principal(SCOPE_ADMIN, "platform");
    struct auth_principal team_read = principal(SCOPE_READ, "platform");

    expect_allowed(&team_admin, SCOPE_ADMIN, "platform");
    expect_allowed(&team_admin, SCOPE_READ, "platform");
    expect_forbidden(&team_admin, SCOPE_READ, "payments",
                     "token 'ci' is limited to team platform, not payments");
    /* Team names are compared exactly: no prefixes, no case folding. */
    expect_forbidden(&team_admin, SCOPE_READ, "platform2",
                     "token 'ci' is limited to team platform, not platform2");
    expect_forbidden(&team_admin, SCOPE_READ, "plat",
                     "token 'ci' is limited to team platform, not plat");
    expect_forbidden(&team_admin, SCOPE_READ, "Platform",
                     "token 'ci' is limited to team platform, not Platform");
    expect_forbidden(&team_admin, SCOPE_READ, "", "token 'ci' is limited to team platform, not ");
    /* Something not owned by a team needs a token for every team. */
    expect_forbidden(&team_admin, SCOPE_READ, NULL,
                     "token 'ci' is limited to team platform; this needs a token for every team");

    /* Scope is checked first, even on the token's own team. */
    expect_forbidden(&team_read, SCOPE_WRITE, "platform",
                     "token 'ci' has scope read; this needs write");
    expect_allowed(&team_read, SCOPE_READ, "platform");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_parse),     cmocka_unit_test(test_scope_name),
        cmocka_unit_test(test_generate_format), cmocka_unit_test(test_generate_small_buffer),
        cmocka_unit_test(test_generate_unique), cmocka_unit_test(test_hash_hex),
        cmocka_unit_test(test_name_is_valid),   cmocka_unit_test(test_authorize_scope),
        cmocka_unit_test(test_authorize_team),
    };

    return cmocka_run_group_tests_name("auth_token", tests, NULL, NULL);
}
