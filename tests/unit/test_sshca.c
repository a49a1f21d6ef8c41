/*
 * test_sshca.c - the SSH CA: public key lines, the CA private key (OpenSSH
 * and PKCS#8), source-address lists, and a certificate decoded field by
 * field with its Ed25519 signature verified (PROTOCOL.certkeys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sshca/sshca.h"
#include "util/error.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Test keys written by ssh-keygen 9.2 for this file (never used anywhere else). */
static const char CA_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACAmdmAP9ddZ8Z3n0WNJXNI1D9Is3hNNd/zDSNBw/4mebAAAAJCmtlf6prZX\n"
    "+gAAAAtzc2gtZWQyNTUxOQAAACAmdmAP9ddZ8Z3n0WNJXNI1D9Is3hNNd/zDSNBw/4mebA\n"
    "AAAECfaZGlRwsoX1UNFl4QJxhes7icG5W24+DxdIfhkKWI4SZ2YA/111nxnefRY0lc0jUP\n"
    "0izeE013/MNI0HD/iZ5sAAAAB3VuaXQtY2EBAgMEBQY=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char CA_PUB[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICZ2YA/111nxnefRY0lc0jUP0izeE013/MNI0HD/iZ5s";
static const char ENC_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCdE9nN48\n"
    "nOYIZwURq4cegmAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAICkaSCQqpqY1F34X\n"
    "wYYaNb34xBnBT/CmJ+cKFdG//uxUAAAAkMHMn46QDuzLGI8YtLdLLptV5cIvQHM9LaDhtE\n"
    "BtnUIATXbhZPJthsqdT2bF1O+svbgcwHLvNhpD6Yoj73ELo0VZR/dsV60js+6ORfiMmb86\n"
    "wLvQWRrXDHh0KQ5xPRHPcq9+ZkehONEwB4Wi4i9uQzaViHEMhn2WHBc+5yH8ykZ6XAs22K\n"
    "nLqfflwWFwMuf7ng==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char ED_PUB[] = "ssh-ed25519 "
                             "AAAAC3NzaC1lZDI1NTE5AAAAIL3ljXD+uFYt/9+fesm60KnLFUs3vCTf3BqwW+oTok/g "
                             "alice@laptop\n";
static const char EC_PUB[] =
    "ecdsa-sha2-nistp256 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHgzEnN+0Lkax8+YKHljd9ivw8eJaG9YTf1l9mx3W"
    "YimoTI1AAjgm6OLXFrgWE3h3EFy/dVrpibj2KVvDp3mHgU= ec";

/* ---- helpers ------------------------------------------------------------------ */

static struct sshca_ca *load_ca(void)
{
    struct sshca_ca *ca = NULL;
    struct ob_error err;

    assert_int_equal(sshca_ca_load(CA_KEY, strlen(CA_KEY), &ca, &err), 0);
    assert_non_null(ca);
    return ca;
}

/* "TYPE BASE64 [comment]" for a blob. */
static char *line_of(const char *type, const struct sshca_buf *b, const char *comment)
{
    char *b64 = NULL, *out;
    size_t n;

    assert_int_equal(sshca_b64_encode(b->data, b->len, &b64), 0);
    n = strlen(type) + strlen(b64) + (comment != NULL ? strlen(comment) : 0) + 4;
    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s %s%s%s", type, b64, comment != NULL ? " " : "",
             comment != NULL ? comment : "");
    free(b64);
    return out;
}

static int parse_line(const char *line, struct ob_error *err)
{
    struct sshca_pubkey k;
    int rc = sshca_pubkey_parse(line, strlen(line), &k, err);

    sshca_pubkey_release(&k);
    return rc;
}

/* An ssh-rsa key blob with exponent 65537 and a modulus of exactly `bits` bits. */
static char *rsa_line(unsigned bits)
{
    struct sshca_buf b = {0};
    unsigned char e[3] = {1, 0, 1};
    size_t nbytes = (bits + 7) / 8;
    unsigned char *n = calloc(1, nbytes + 1); /* n[0]: a leading zero when needed */
    char *line;

    assert_non_null(n);
    n[1] = (unsigned char)(1u << ((bits - 1) % 8));
    n[nbytes] |= 1;
    sshca_buf_cstring(&b, "ssh-rsa");
    sshca_buf_string(&b, e, sizeof(e));
    if (n[1] & 0x80)
        sshca_buf_string(&b, n, nbytes + 1);
    else
        sshca_buf_string(&b, n + 1, nbytes);
    line = line_of("ssh-rsa", &b, NULL);
    sshca_buf_release(&b);
    free(n);
    return line;
}

/* ---- base64 and the wire reader ------------------------------------------------ */

static void test_base64(void **state)
{
    unsigned char *out;
    size_t n;
    char *enc;

    (void)state;
    assert_int_equal(sshca_b64_decode("aGVsbG8=", 8, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    assert_int_equal(sshca_b64_encode((const unsigned char *)"hello", 5, &enc), 0);
    assert_string_equal(enc, "aGVsbG8=");
    free(enc);
    assert_int_equal(sshca_b64_decode("aGVsbG9=", 8, &out, &n), OB_EINVAL); /* stray bits */
    assert_int_equal(sshca_b64_decode("aGVs bG8", 8, &out, &n), OB_EINVAL);
    assert_int_equal(sshca_b64_decode("aGV=bG8=", 8, &out, &n), OB_EINVAL);
    assert_int_equal(sshca_b64_decode("aGVsbG8", 7, &out, &n), OB_EINVAL);
    assert_int_equal(sshca_b64_decode("", 0, &out, &n), OB_EINVAL);
}

static void test_reader_bounds(void **state)
{
    const unsigned char data[] = {0, 0, 0, 5, 'a', 'b'};
    struct sshca_reader r = {data, sizeof(data)};
    const unsigned char *p;
    size_t n;
    uint64_t v;

    (void)state;
    assert_int_equal(sshca_get_string(&r, &p, &n), OB_EINVAL);
    assert_int_equal(r.left, sizeof(data)); /* unchanged on failure */
    assert_int_equal(sshca_get_u64(&r, &v), OB_EINVAL);
}

/* ---- public key lines ------------------------------------------------------------ */

static void test_pubkey_ed25519(void **state)
{
    struct sshca_pubkey k;
    struct ob_error err;

    (void)state;
    assert_int_equal(sshca_pubkey_parse(ED_PUB, strlen(ED_PUB), &k, &err), 0);
    assert_string_equal(k.type, "ssh-ed25519");
    assert_string_equal(k.comment, "alice@laptop");
    assert_int_equal(k.blob_len, 4 + 11 + 4 + 32);
    sshca_pubkey_release(&k);
    sshca_pubkey_release(NULL);
}

static void test_pubkey_ecdsa_and_rsa(void **state)
{
    struct ob_error err;
    char *ok = rsa_line(3072), *small = rsa_line(3071);

    (void)state;
    assert_int_equal(parse_line(EC_PUB, &err), 0);
    assert_int_equal(parse_line(ok, &err), 0);
    assert_int_equal(parse_line(small, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "3071 bits"));
    free(ok);
    free(small);
}

static void test_pubkey_refusals(void **state)
{
    struct ob_error err;
    char buf[1024];
    struct sshca_buf b = {0};
    char *line;
    unsigned char pk[32] = {0};

    (void)state;
    snprintf(buf, sizeof(buf), "command=\"/bin/sh\" %s", ED_PUB);
    assert_int_equal(parse_line(buf, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "options"));
    snprintf(buf, sizeof(buf), "from=\"10.0.0.1\" %s", ED_PUB);
    assert_int_equal(parse_line(buf, &err), OB_EINVAL);
    snprintf(buf, sizeof(buf), "%s%s", ED_PUB, ED_PUB);
    assert_int_equal(parse_line(buf, &err), OB_EINVAL);
    assert_int_equal(parse_line("", &err), OB_EINVAL);
    assert_int_equal(parse_line("ssh-ed25519", &err), OB_EINVAL);
    assert_int_equal(parse_line("ssh-ed25519 !!!!", &err), OB_EINVAL);
    assert_int_equal(parse_line("ssh-dss AAAAB3NzaC1kc3M=", &err), OB_EINVAL);
    assert_int_equal(parse_line("ssh-ed25519-cert-v01@openssh.com AAAA", &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "certificate"));
    /* The type outside must be the type inside. */
    snprintf(buf, sizeof(buf), "ssh-rsa %s", ED_PUB + strlen("ssh-ed25519 "));
    assert_int_equal(parse_line(buf, &err), OB_EINVAL);
    /* A 31-byte Ed25519 key, and one with bytes after it. */
    sshca_buf_cstring(&b, "ssh-ed25519");
    sshca_buf_string(&b, pk, 31);
    line = line_of("ssh-ed25519", &b, NULL);
    assert_int_equal(parse_line(line, &err), OB_EINVAL);
    free(line);
    sshca_buf_release(&b);
    sshca_buf_cstring(&b, "ssh-ed25519");
    sshca_buf_string(&b, pk, 32);
    sshca_buf_u32(&b, 0);
    line = line_of("ssh-ed25519", &b, NULL);
    assert_int_equal(parse_line(line, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "unexpected bytes"));
    free(line);
    sshca_buf_release(&b);
    /* An ECDSA point that is not on the curve. */
    {
        unsigned char point[65];
        memset(point, 7, sizeof(point));
        point[0] = 4;
        sshca_buf_cstring(&b, "ecdsa-sha2-nistp256");
        sshca_buf_cstring(&b, "nistp256");
        sshca_buf_string(&b, point, sizeof(point));
        line = line_of("ecdsa-sha2-nistp256", &b, NULL);
        assert_int_equal(parse_line(line, &err), OB_EINVAL);
        assert_non_null(strstr(err.msg, "curve"));
        free(line);
        sshca_buf_release(&b);
    }
    /* A control character in the comment. */
    snprintf(buf, sizeof(buf), "%.*s x\001y", (int)(strlen(ED_PUB) - 1), ED_PUB);
    assert_int_equal(parse_line(buf, &err), OB_EINVAL);
}

/* ---- the CA key ------------------------------------------------------------------- */

static void test_ca_load_openssh(void **state)
{
    struct sshca_ca *ca = load_ca();
    struct ob_error err;
    char *line = NULL;

    (void)state;
    assert_int_equal(sshca_ca_pubkey_line(ca, "opsbell-ca", &line, &err), 0);
    assert_true(strncmp(line, CA_PUB, strlen(CA_PUB)) == 0);
    assert_string_equal(line + strlen(CA_PUB), " opsbell-ca");
    free(line);
    assert_int_equal(sshca_ca_pubkey_line(ca, NULL, &line, &err), 0);
    assert_string_equal(line, CA_PUB);
    free(line);
    sshca_ca_free(ca);
    sshca_ca_free(NULL);
}

static void test_ca_load_pkcs8(void **state)
{
    struct sshca_ca *ca = NULL, *again = NULL;
    struct ob_error err;
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long n;
    unsigned char a[SSHCA_CA_BLOB_LEN], b[SSHCA_CA_BLOB_LEN];

    (void)state;
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pkey);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &pem);
    assert_int_equal(sshca_ca_load(pem, (size_t)n, &ca, &err), 0);
    assert_int_equal(sshca_ca_load(pem, (size_t)n, &again, &err), 0);
    assert_int_equal(sshca_ca_pubkey_blob(ca, a), SSHCA_CA_BLOB_LEN);
    assert_int_equal(sshca_ca_pubkey_blob(again, b), SSHCA_CA_BLOB_LEN);
    assert_memory_equal(a, b, sizeof(a));
    sshca_ca_free(ca);
    sshca_ca_free(again);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
}

enum variant {
    V_GOOD,
    V_CHECKINT,
    V_PADDING,
    V_PUB_MISMATCH,
    V_HALVES,
    V_CIPHER,
    V_TWO_KEYS,
    V_RSA,
    V_TRAILING,
};

/* An openssh-key-v1 file built here, good or broken in one way. */
static char *make_openssh_key(enum variant v)
{
    static const unsigned char seed[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    unsigned char pub[32];
    size_t publen = sizeof(pub);
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    struct sshca_buf file = {0}, pubblob = {0}, priv = {0};
    unsigned char privkey[64];
    char *b64 = NULL, *out;
    size_t n;

    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, pub, &publen), 1);
    EVP_PKEY_free(pkey);
    memcpy(privkey, seed, 32);
    memcpy(privkey + 32, pub, 32);
    if (v == V_HALVES)
        privkey[40] ^= 1;
    sshca_buf_cstring(&pubblob, "ssh-ed25519");
    if (v == V_PUB_MISMATCH)
        pub[0] ^= 1;
    sshca_buf_string(&pubblob, pub, 32);
    if (v == V_PUB_MISMATCH)
        pub[0] ^= 1;
    sshca_buf_u32(&priv, 0x11223344);
    sshca_buf_u32(&priv, v == V_CHECKINT ? 0x11223345 : 0x11223344);
    sshca_buf_cstring(&priv, v == V_RSA ? "ssh-rsa" : "ssh-ed25519");
    sshca_buf_string(&priv, pub, 32);
    sshca_buf_string(&priv, privkey, 64);
    sshca_buf_cstring(&priv, "test");
    for (unsigned char i = 1; priv.len % 8 != 0; i++) {
        unsigned char pad = v == V_PADDING ? 0 : i;
        sshca_buf_bytes(&priv, &pad, 1);
    }
    sshca_buf_bytes(&file, "openssh-key-v1", 15);
    sshca_buf_cstring(&file, v == V_CIPHER ? "aes256-ctr" : "none");
    sshca_buf_cstring(&file, "none");
    sshca_buf_string(&file, "", 0);
    sshca_buf_u32(&file, v == V_TWO_KEYS ? 2 : 1);
    sshca_buf_string(&file, pubblob.data, pubblob.len);
    sshca_buf_string(&file, priv.data, priv.len);
    if (v == V_TRAILING)
        sshca_buf_u32(&file, 0);
    assert_false(file.failed);
    assert_int_equal(sshca_b64_encode(file.data, file.len, &b64), 0);
    n = strlen(b64) + 128;
    out = malloc(n);
    assert_non_null(out);
    /* Lines of 70 characters, as ssh-keygen writes them. */
    {
        size_t len = (size_t)snprintf(out, n, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        for (size_t i = 0; b64[i] != '\0'; i++) {
            out[len++] = b64[i];
            if (i % 70 == 69)
                out[len++] = '\n';
        }
        snprintf(out + len, n - len, "\n-----END OPENSSH PRIVATE KEY-----\n");
    }
    free(b64);
    sshca_buf_release(&file);
    sshca_buf_release(&pubblob);
    sshca_buf_release(&priv);
    return out;
}

static void test_ca_load_refusals(void **state)
{
    static const struct {
        enum variant v;
        const char *words;
    } cases[] = {
        {V_CHECKINT, "check integers"},
        {V_PADDING, "padding"},
        {V_PUB_MISMATCH, "does not match"},
        {V_HALVES, "halves"},
        {V_CIPHER, "encrypted"},
        {V_TWO_KEYS, "exactly one"},
        {V_RSA, "not an ssh-ed25519"},
        {V_TRAILING, "malformed"},
    };
    struct sshca_ca *ca = NULL;
    struct ob_error err;
    char *text = make_openssh_key(V_GOOD);

    (void)state;
    assert_int_equal(sshca_ca_load(text, strlen(text), &ca, &err), 0);
    sshca_ca_free(ca);
    free(text);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        text = make_openssh_key(cases[i].v);
        ob_error_clear(&err);
        assert_int_equal(sshca_ca_load(text, strlen(text), &ca, &err), OB_EINVAL);
        assert_null(ca);
        if (strstr(err.msg, cases[i].words) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].words);
        free(text);
    }
    assert_int_equal(sshca_ca_load(ENC_KEY, strlen(ENC_KEY), &ca, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "encrypted"));
    assert_int_equal(sshca_ca_load("hello", 5, &ca, &err), OB_EINVAL);
    assert_int_equal(sshca_ca_load(CA_KEY, 60, &ca, &err), OB_EINVAL); /* no END line */
    assert_int_equal(sshca_ca_load(ED_PUB, strlen(ED_PUB), &ca, &err), OB_EINVAL);
    assert_null(ca);
}

/* ---- source addresses -------------------------------------------------------------- */

static void test_source_normalize(void **state)
{
    static const char *const bad[] = {
        "",
        "0.0.0.0/0",
        "::/0",
        "10.0.0.1/0",
        "1.2.3.4,0.0.0.0/0",
        "10.0.0.1/24",
        "10.0.0.0/33",
        "300.1.1.1",
        "example.com",
        "10.0.0.1,",
        ",10.0.0.1",
        "10.0.0.1/",
        "10.0.0.1/024",
        "10.0.0.1/-1",
        "2001:db8::1/129",
        "10.0.0.1,10.0.0.1",
    };
    char out[SSHCA_SOURCE_MAX];
    struct ob_error err;

    (void)state;
    assert_int_equal(sshca_source_normalize("203.0.113.7", out, sizeof(out), &err), 0);
    assert_string_equal(out, "203.0.113.7/32");
    assert_int_equal(
        sshca_source_normalize("10.0.0.0/8,2001:DB8:0::1,2001:db8::/32", out, sizeof(out), &err),
        0);
    assert_string_equal(out, "10.0.0.0/8,2001:db8::1/128,2001:db8::/32");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sshca_source_normalize(bad[i], out, sizeof(out), &err) != OB_EINVAL)
            fail_msg("'%s' was accepted as '%s'", bad[i], out);
    assert_int_equal(sshca_source_normalize("0.0.0.0/0", out, sizeof(out), &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "every address"));
    assert_int_equal(sshca_source_normalize("10.0.0.1", out, 8, &err), OB_ETOOLARGE);
}

/* ---- certificates -------------------------------------------------------------------- */

static void want_string(struct sshca_reader *r, const void *want, size_t n)
{
    const unsigned char *p;
    size_t len;

    assert_int_equal(sshca_get_string(r, &p, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(p, want, n);
}

static void want_cstring(struct sshca_reader *r, const char *want)
{
    want_string(r, want, strlen(want));
}

static void test_cert_fields(void **state)
{
    static const char *const principals[] = {"alice", "root"};
    struct sshca_ca *ca = load_ca();
    struct sshca_pubkey key;
    struct sshca_cert_request req = {0};
    struct ob_error err;
    unsigned char nonce[SSHCA_NONCE_LEN], cakey[SSHCA_CA_BLOB_LEN];
    unsigned char *blob = NULL;
    size_t blob_len = 0, signed_len;
    struct sshca_reader r, sub, inner;
    const unsigned char *p, *sig;
    size_t n, sig_len;
    uint64_t u64;
    uint32_t u32;
    char *line = NULL;
    EVP_PKEY *pub;
    EVP_MD_CTX *ctx;

    (void)state;
    memset(nonce, 0xA5, sizeof(nonce));
    assert_int_equal(sshca_pubkey_parse(ED_PUB, strlen(ED_PUB), &key, &err), 0);
    req.key = &key;
    req.serial = 42;
    req.key_id = "grant:42 alice";
    req.principals = principals;
    req.principal_count = 2;
    req.valid_after = 1700000000;
    req.valid_before = 1700001800;
    req.source_address = "203.0.113.7/32,2001:db8::/32";
    req.nonce = nonce;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), 0);

    r.p = blob;
    r.left = blob_len;
    want_cstring(&r, "ssh-ed25519-cert-v01@openssh.com");
    want_string(&r, nonce, sizeof(nonce));
    want_string(&r, key.blob + 4 + 11 + 4, 32); /* pk, as in the user's key */
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 42);
    assert_int_equal(sshca_get_u32(&r, &u32), 0);
    assert_int_equal(u32, SSHCA_CERT_TYPE_USER);
    want_cstring(&r, "grant:42 alice");
    assert_int_equal(sshca_get_string(&r, &p, &n), 0); /* principals: strings in a string */
    sub.p = p;
    sub.left = n;
    want_cstring(&sub, "alice");
    want_cstring(&sub, "root");
    assert_int_equal(sub.left, 0);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 1700000000);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 1700001800);
    assert_int_equal(sshca_get_string(&r, &p, &n), 0); /* critical options */
    sub.p = p;
    sub.left = n;
    want_cstring(&sub, "source-address");
    assert_int_equal(sshca_get_string(&sub, &p, &n), 0); /* data: a string inside a string */
    inner.p = p;
    inner.left = n;
    want_cstring(&inner, "203.0.113.7/32,2001:db8::/32");
    assert_int_equal(inner.left, 0);
    assert_int_equal(sub.left, 0);
    assert_int_equal(sshca_get_string(&r, &p, &n), 0); /* extensions, sorted, empty data */
    sub.p = p;
    sub.left = n;
    want_cstring(&sub, "permit-agent-forwarding");
    want_string(&sub, "", 0);
    want_cstring(&sub, "permit-port-forwarding");
    want_string(&sub, "", 0);
    want_cstring(&sub, "permit-pty");
    want_string(&sub, "", 0);
    want_cstring(&sub, "permit-user-rc");
    want_string(&sub, "", 0);
    assert_int_equal(sub.left, 0);
    want_string(&r, "", 0); /* reserved */
    assert_int_equal(sshca_ca_pubkey_blob(ca, cakey), SSHCA_CA_BLOB_LEN);
    want_string(&r, cakey, sizeof(cakey)); /* signature key */
    signed_len = blob_len - r.left;
    assert_int_equal(sshca_get_string(&r, &p, &n), 0); /* signature */
    assert_int_equal(r.left, 0);
    sub.p = p;
    sub.left = n;
    want_cstring(&sub, "ssh-ed25519");
    assert_int_equal(sshca_get_string(&sub, &sig, &sig_len), 0);
    assert_int_equal(sig_len, 64);
    assert_int_equal(sub.left, 0);

    /* The signature verifies with the CA's public key over everything before it. */
    pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, cakey + 19, 32);
    assert_non_null(pub);
    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, 64, blob, signed_len), 1);
    EVP_MD_CTX_free(ctx);
    blob[100] ^= 1; /* and not over anything else */
    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub), 1);
    assert_int_not_equal(EVP_DigestVerify(ctx, sig, 64, blob, signed_len), 1);
    EVP_MD_CTX_free(ctx);
    blob[100] ^= 1;
    EVP_PKEY_free(pub);

    assert_int_equal(sshca_cert_line(blob, blob_len, key.comment, &line, &err), 0);
    assert_true(strncmp(line, "ssh-ed25519-cert-v01@openssh.com AAAA", 37) == 0);
    assert_string_equal(line + strlen(line) - 13, " alice@laptop");
    free(line);
    free(blob);
    sshca_pubkey_release(&key);
    sshca_ca_free(ca);
}

static void test_cert_ecdsa_and_no_source(void **state)
{
    static const char *const principals[] = {"bob"};
    struct sshca_ca *ca = load_ca();
    struct sshca_pubkey key;
    struct sshca_cert_request req = {0};
    struct ob_error err;
    unsigned char *blob = NULL, *blob2 = NULL;
    size_t blob_len = 0, blob2_len = 0, n;
    struct sshca_reader r, kr;
    const unsigned char *p;
    uint64_t u64;
    uint32_t u32;

    (void)state;
    assert_int_equal(sshca_pubkey_parse(EC_PUB, strlen(EC_PUB), &key, &err), 0);
    req.key = &key;
    req.key_id = "id";
    req.principals = principals;
    req.principal_count = 1;
    req.valid_after = 10;
    req.valid_before = 20;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), 0);
    r.p = blob;
    r.left = blob_len;
    want_cstring(&r, "ecdsa-sha2-nistp256-cert-v01@openssh.com");
    assert_int_equal(sshca_get_string(&r, &p, &n), 0);
    assert_int_equal(n, SSHCA_NONCE_LEN);
    /* curve and Q, as in the user's key */
    kr.p = key.blob;
    kr.left = key.blob_len;
    assert_int_equal(sshca_get_string(&kr, &p, &n), 0);
    assert_true(r.left > kr.left);
    assert_memory_equal(r.p, kr.p, kr.left);
    r.p += kr.left;
    r.left -= kr.left;
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 0);
    assert_int_equal(sshca_get_u32(&r, &u32), 0);
    want_cstring(&r, "id");
    assert_int_equal(sshca_get_string(&r, &p, &n), 0);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    want_string(&r, "", 0); /* no critical options */
    /* Random nonces: two signatures of one request differ. */
    assert_int_equal(sshca_cert_sign(ca, &req, &blob2, &blob2_len, &err), 0);
    assert_int_equal(blob_len, blob2_len);
    assert_memory_not_equal(blob, blob2, blob_len);
    free(blob);
    free(blob2);
    sshca_pubkey_release(&key);
    sshca_ca_free(ca);
}

static void test_cert_refusals(void **state)
{
    static const char *const none[] = {NULL};
    static const char *const empty[] = {""};
    static const char *const comma[] = {"a,b"};
    static const char *const twice[] = {"a", "a"};
    static const char *const one[] = {"alice"};
    struct sshca_ca *ca = load_ca();
    struct sshca_pubkey key;
    struct sshca_cert_request req = {0};
    struct ob_error err;
    unsigned char *blob = NULL;
    size_t blob_len = 0;

    (void)state;
    assert_int_equal(sshca_pubkey_parse(ED_PUB, strlen(ED_PUB), &key, &err), 0);
    req.key = &key;
    req.key_id = "id";
    req.valid_after = 10;
    req.valid_before = 20;
    req.principals = one;
    req.principal_count = 0; /* "any user" to sshd: never */
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "principal"));
    assert_null(blob);
    req.principal_count = 1;
    req.principals = none;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.principals = empty;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.principals = comma;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.principals = twice;
    req.principal_count = 2;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.principals = one;
    req.principal_count = 1;
    req.valid_before = 10;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.valid_before = 20;
    req.key_id = "";
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.key_id = "a\nb";
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.key_id = "id";
    req.source_address = "";
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), OB_EINVAL);
    req.source_address = NULL;
    assert_int_equal(sshca_cert_sign(ca, &req, &blob, &blob_len, &err), 0);
    free(blob);
    sshca_pubkey_release(&key);
    sshca_ca_free(ca);
}

static void test_krl_layout(void **state)
{
    static const uint64_t serials[] = {9, 3, 9};
    static const char *const ids[] = {"grant:1 a", "grant:2 b"};
    struct sshca_ca *ca = load_ca();
    struct ob_error err;
    unsigned char *krl = NULL, cakey[SSHCA_CA_BLOB_LEN];
    size_t len = 0, n;
    struct sshca_reader r, sec, sub;
    const unsigned char *p;
    uint64_t u64;
    uint32_t u32;

    (void)state;
    assert_int_equal(sshca_krl_build(ca, serials, 3, ids, 2, 5, 1700000000, "c", &krl, &len, &err),
                     0);
    r.p = krl;
    r.left = len;
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_true(u64 == 0x5353484b524c0a00ULL);
    assert_int_equal(sshca_get_u32(&r, &u32), 0);
    assert_int_equal(u32, 1);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 5);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 1700000000);
    assert_int_equal(sshca_get_u64(&r, &u64), 0);
    assert_int_equal(u64, 0);
    want_string(&r, "", 0);
    want_cstring(&r, "c");
    assert_true(r.left > 1);
    assert_int_equal(r.p[0], 1); /* KRL_SECTION_CERTIFICATES */
    r.p++;
    r.left--;
    assert_int_equal(sshca_get_string(&r, &p, &n), 0);
    assert_int_equal(r.left, 0);
    sec.p = p;
    sec.left = n;
    assert_int_equal(sshca_ca_pubkey_blob(ca, cakey), SSHCA_CA_BLOB_LEN);
    want_string(&sec, cakey, sizeof(cakey));
    want_string(&sec, "", 0);
    assert_int_equal(sec.p[0], 0x20); /* serial list: sorted, no duplicates */
    sec.p++;
    sec.left--;
    assert_int_equal(sshca_get_string(&sec, &p, &n), 0);
    sub.p = p;
    sub.left = n;
    assert_int_equal(sshca_get_u64(&sub, &u64), 0);
    assert_int_equal(u64, 3);
    assert_int_equal(sshca_get_u64(&sub, &u64), 0);
    assert_int_equal(u64, 9);
    assert_int_equal(sub.left, 0);
    assert_int_equal(sec.p[0], 0x23); /* key ids */
    sec.p++;
    sec.left--;
    assert_int_equal(sshca_get_string(&sec, &p, &n), 0);
    sub.p = p;
    sub.left = n;
    want_cstring(&sub, "grant:1 a");
    want_cstring(&sub, "grant:2 b");
    assert_int_equal(sub.left, 0);
    assert_int_equal(sec.left, 0);
    free(krl);

    /* Nothing revoked: the header alone. */
    assert_int_equal(sshca_krl_build(ca, NULL, 0, NULL, 0, 1, 2, NULL, &krl, &len, &err), 0);
    assert_int_equal(len, 8 + 4 + 8 + 8 + 8 + 4 + 4);
    free(krl);
    {
        static const uint64_t zero[] = {0};
        static const char *const empty[] = {""};
        assert_int_equal(sshca_krl_build(ca, zero, 1, NULL, 0, 1, 2, NULL, &krl, &len, &err),
                         OB_EINVAL);
        assert_int_equal(sshca_krl_build(ca, NULL, 0, empty, 1, 1, 2, NULL, &krl, &len, &err),
                         OB_EINVAL);
        assert_null(krl);
    }
    sshca_ca_free(ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_pubkey_ed25519),
        cmocka_unit_test(test_pubkey_ecdsa_and_rsa),
        cmocka_unit_test(test_pubkey_refusals),
        cmocka_unit_test(test_ca_load_openssh),
        cmocka_unit_test(test_ca_load_pkcs8),
        cmocka_unit_test(test_ca_load_refusals),
        cmocka_unit_test(test_source_normalize),
        cmocka_unit_test(test_cert_fields),
        cmocka_unit_test(test_cert_ecdsa_and_no_source),
        cmocka_unit_test(test_cert_refusals),
        cmocka_unit_test(test_krl_layout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
