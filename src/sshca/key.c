/*
 * key.c - parsing keys: OpenSSH public key lines (the keys being certified)
 * and the CA's Ed25519 private key (OpenSSH "openssh-key-v1" or PEM PKCS#8).
 */
#include "sshca/sshca.h"

#include "util/error.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "sshca/internal.h"

/* ---- public key lines ---------------------------------------------------- */

struct ecdsa_curve {
    const char *type;
    const char *curve;
    int nid;
    size_t point_len; /* uncompressed: 1 + 2 * field bytes */
};

static const struct ecdsa_curve ecdsa_curves[] = {
    {"ecdsa-sha2-nistp256", "nistp256", NID_X9_62_prime256v1, 65},
    {"ecdsa-sha2-nistp384", "nistp384", NID_secp384r1, 97},
    {"ecdsa-sha2-nistp521", "nistp521", NID_secp521r1, 133},
};

static int str_eq(const unsigned char *p, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* An mpint that is positive and minimally encoded; *bits its size. */
static int check_mpint(const unsigned char *p, size_t n, unsigned *bits)
{
    size_t i = 0;
    unsigned char top;

    if (n == 0 || (p[0] & 0x80) != 0)
        return OB_EINVAL; /* zero or negative */
    if (p[0] == 0) {
        if (n < 2 || (p[1] & 0x80) == 0)
            return OB_EINVAL; /* an unneeded leading zero */
        i = 1;
    }
    if (n - i > 2048)
        return OB_EINVAL; /* 16384 bits: OpenSSH's own cap */
    top = p[i];
    *bits = (unsigned)(n - i - 1) * 8;
    while (top != 0) {
        (*bits)++;
        top >>= 1;
    }
    return 0;
}

static int ecdsa_point_ok(int nid, const unsigned char *p, size_t n)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
    EC_POINT *point = NULL;
    int ok = 0;

    if (group == NULL)
        return 0;
    point = EC_POINT_new(group);
    if (point != NULL && EC_POINT_oct2point(group, point, p, n, NULL) == 1 &&
        !EC_POINT_is_at_infinity(group, point) && EC_POINT_is_on_curve(group, point, NULL) == 1)
        ok = 1;
    EC_POINT_free(point);
    EC_GROUP_free(group);
    ERR_clear_error(); /* a refused point leaves errors on this thread's queue */
    return ok;
}

/* Check the fields after the type string of a key blob of type `type`. */
static int check_key_fields(const char *type, struct sshca_reader *r, struct ob_error *err)
{
    const unsigned char *a, *b;
    size_t an, bn;

    if (strcmp(type, "ssh-ed25519") == 0) {
        if (sshca_get_string(r, &a, &an) != 0 || an != 32)
            return ob_fail(err, OB_EINVAL, "ssh-ed25519 key: the public key is not 32 bytes");
        return 0;
    }
    if (strcmp(type, "ssh-rsa") == 0) {
        unsigned ebits, nbits;
        if (sshca_get_string(r, &a, &an) != 0 || check_mpint(a, an, &ebits) != 0 ||
            sshca_get_string(r, &b, &bn) != 0 || check_mpint(b, bn, &nbits) != 0)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key: malformed exponent or modulus");
        if (ebits < 2 || ebits > 64 || (a[an - 1] & 1) == 0)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key: bad public exponent");
        if (nbits < SSHCA_RSA_MIN_BITS)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key of %u bits: at least %d are required",
                           nbits, SSHCA_RSA_MIN_BITS);
        return 0;
    }
    for (size_t i = 0; i < sizeof(ecdsa_curves) / sizeof(ecdsa_curves[0]); i++) {
        const struct ecdsa_curve *c = &ecdsa_curves[i];
        if (strcmp(type, c->type) != 0)
            continue;
        if (sshca_get_string(r, &a, &an) != 0 || !str_eq(a, an, c->curve))
            return ob_fail(err, OB_EINVAL, "%s key: the curve name is not %s", type, c->curve);
        if (sshca_get_string(r, &b, &bn) != 0 || bn != c->point_len || b[0] != 0x04 ||
            !ecdsa_point_ok(c->nid, b, bn))
            return ob_fail(err, OB_EINVAL, "%s key: the public point is not on the curve", type);
        return 0;
    }
    return ob_fail(err, OB_EINVAL,
                   "unsupported key type (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or "
                   "ssh-rsa)");
}

static int is_supported_type(const char *t, size_t n)
{
    static const char *const types[] = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
                                        "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"};

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (str_eq((const unsigned char *)t, n, types[i]))
            return 1;
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int sshca_pubkey_parse(const char *line, size_t len, struct sshca_pubkey *out, struct ob_error *err)
{
    const char *p = line, *end, *tok, *b64;
    size_t tlen, blen;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    struct sshca_reader r;
    const unsigned char *inner;
    size_t inner_len;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > SSHCA_LINE_MAX)
        return ob_fail(err, OB_ETOOLARGE, "public key line longer than %d bytes", SSHCA_LINE_MAX);
    end = line + len;
    if (end > p && end[-1] == '\n')
        end--;
    if (end > p && end[-1] == '\r')
        end--;
    for (const char *q = p; q < end; q++)
        if (*q == '\n' || *q == '\0')
            return ob_fail(err, OB_EINVAL, "a public key is one line with one key");
    while (p < end && is_blank(*p))
        p++;
    tok = p;
    while (p < end && !is_blank(*p))
        p++;
    tlen = (size_t)(p - tok);
    if (tlen == 0)
        return ob_fail(err, OB_EINVAL, "empty public key");
    if (!is_supported_type(tok, tlen)) {
        if (memchr(tok, '=', tlen) != NULL || memchr(tok, '"', tlen) != NULL)
            return ob_fail(err, OB_EINVAL,
                           "key options (command=, from=, ...) are not accepted; give the key "
                           "alone");
        if (tlen > 8 && memmem(tok, tlen, "-cert-", 6) != NULL)
            return ob_fail(err, OB_EINVAL, "this is a certificate, not a public key");
        return ob_fail(err, OB_EINVAL,
                       "unsupported key type (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or "
                       "ssh-rsa)");
    }
    while (p < end && is_blank(*p))
        p++;
    b64 = p;
    while (p < end && !is_blank(*p))
        p++;
    blen = (size_t)(p - b64);
    if (blen == 0)
        return ob_fail(err, OB_EINVAL, "public key without its base64 part");
    rc = sshca_b64_decode(b64, blen, &blob, &blob_len);
    if (rc == OB_ENOMEM)
        return ob_fail(err, rc, "out of memory");
    if (rc != 0)
        return ob_fail(err, OB_EINVAL, "public key: invalid base64");
    r.p = blob;
    r.left = blob_len;
    if (sshca_get_string(&r, &inner, &inner_len) != 0 || inner_len != tlen ||
        memcmp(inner, tok, tlen) != 0) {
        rc = ob_fail(err, OB_EINVAL, "public key: the type inside the key is not '%.*s'", (int)tlen,
                     tok);
        goto out;
    }
    memcpy(out->type, tok, tlen);
    out->type[tlen] = '\0';
    rc = check_key_fields(out->type, &r, err);
    if (rc != 0)
        goto out;
    if (r.left != 0) {
        rc = ob_fail(err, OB_EINVAL, "public key: %zu unexpected bytes after the key", r.left);
        goto out;
    }
    while (p < end && is_blank(*p))
        p++;
    if (p < end) {
        for (const char *q = p; q < end; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') {
                rc = ob_fail(err, OB_EINVAL, "public key comment holds a control character");
                goto out;
            }
        out->comment = strndup(p, (size_t)(end - p));
        if (out->comment == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    out->blob = blob;
    out->blob_len = blob_len;
    blob = NULL;
    rc = 0;
out:
    free(blob);
    if (rc != 0)
        sshca_pubkey_release(out);
    return rc;
}

void sshca_pubkey_release(struct sshca_pubkey *k)
{
    if (k == NULL)
        return;
    free(k->blob);
    free(k->comment);
    memset(k, 0, sizeof(*k));
}

/* ---- the CA private key ---------------------------------------------------- */

#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END   "-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC "openssh-key-v1" /* followed by a NUL */

static int ca_from_seed(const unsigned char seed[32], struct sshca_ca **out, struct ob_error *err)
{
    struct sshca_ca *ca = calloc(1, sizeof(*ca));
    size_t publen = sizeof(ca->pub);

    if (ca == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    ca->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (ca->pkey == NULL || EVP_PKEY_get_raw_public_key(ca->pkey, ca->pub, &publen) != 1 ||
        publen != 32) {
        sshca_ca_free(ca);
        return ob_fail(err, OB_EINTERNAL, "OpenSSL refused the Ed25519 key");
    }
    *out = ca;
    return 0;
}

/* The private section: checkint x2, one ssh-ed25519 key, comment, padding. */
static int parse_private_section(const unsigned char *p, size_t n, const unsigned char *pub,
                                 size_t pub_len, struct sshca_ca **out, struct ob_error *err)
{
    struct sshca_reader r = {p, n};
    uint32_t check1, check2;
    const unsigned char *type, *kpub, *kpriv, *comment;
    size_t type_len, kpub_len, kpriv_len, comment_len;
    struct sshca_reader pr = {pub, pub_len};
    const unsigned char *ptype, *ppk;
    size_t ptype_len, ppk_len;

    if (n % 8 != 0)
        return ob_fail(err, OB_EINVAL, "CA key: private section not padded to 8 bytes");
    if (sshca_get_u32(&r, &check1) != 0 || sshca_get_u32(&r, &check2) != 0 || check1 != check2)
        return ob_fail(err, OB_EINVAL, "CA key: check integers differ (encrypted or corrupt key)");
    if (sshca_get_string(&r, &type, &type_len) != 0 || !str_eq(type, type_len, "ssh-ed25519"))
        return ob_fail(err, OB_EINVAL, "CA key: not an ssh-ed25519 key (ssh-keygen -t ed25519)");
    if (sshca_get_string(&r, &kpub, &kpub_len) != 0 || kpub_len != 32 ||
        sshca_get_string(&r, &kpriv, &kpriv_len) != 0 || kpriv_len != 64 ||
        sshca_get_string(&r, &comment, &comment_len) != 0)
        return ob_fail(err, OB_EINVAL, "CA key: malformed ssh-ed25519 private key");
    /* The private key is seed || public key; both copies must agree. */
    if (CRYPTO_memcmp(kpriv + 32, kpub, 32) != 0)
        return ob_fail(err, OB_EINVAL, "CA key: private and public halves do not match");
    if (sshca_get_string(&pr, &ptype, &ptype_len) != 0 ||
        !str_eq(ptype, ptype_len, "ssh-ed25519") || sshca_get_string(&pr, &ppk, &ppk_len) != 0 ||
        ppk_len != 32 || pr.left != 0 || memcmp(ppk, kpub, 32) != 0)
        return ob_fail(err, OB_EINVAL, "CA key: the public key does not match the private key");
    for (size_t i = 0; i < r.left; i++)
        if (r.p[i] != (unsigned char)(i + 1))
            return ob_fail(err, OB_EINVAL, "CA key: bad padding");
    if (r.left >= 8)
        return ob_fail(err, OB_EINVAL, "CA key: bad padding");
    if (ca_from_seed(kpriv, out, err) != 0)
        return err != NULL ? err->code : OB_EINTERNAL;
    if (CRYPTO_memcmp((*out)->pub, kpub, 32) != 0) {
        sshca_ca_free(*out);
        *out = NULL;
        return ob_fail(err, OB_EINVAL, "CA key: the public key is not the private key's");
    }
    return 0;
}

static int load_openssh(const char *data, size_t len, struct sshca_ca **out, struct ob_error *err)
{
    const char *begin = memmem(data, len, OPENSSH_BEGIN, strlen(OPENSSH_BEGIN));
    const char *body, *stop;
    char *b64 = NULL;
    size_t b64_len = 0;
    unsigned char *bin = NULL;
    size_t bin_len = 0;
    struct sshca_reader r;
    const unsigned char *cipher, *kdf, *kdfopts, *pub, *priv;
    size_t cipher_len, kdf_len, kdfopts_len, pub_len, priv_len;
    uint32_t nkeys;
    int rc;

    body = begin + strlen(OPENSSH_BEGIN);
    stop = memmem(body, len - (size_t)(body - data), OPENSSH_END, strlen(OPENSSH_END));
    if (stop == NULL)
        return ob_fail(err, OB_EINVAL, "CA key: no '" OPENSSH_END "' line");
    b64 = malloc((size_t)(stop - body) + 1);
    if (b64 == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (const char *q = body; q < stop; q++) {
        if (*q == '\n' || *q == '\r' || *q == ' ' || *q == '\t')
            continue;
        b64[b64_len++] = *q;
    }
    rc = sshca_b64_decode(b64, b64_len, &bin, &bin_len);
    if (rc != 0) {
        rc = ob_fail(err, rc == OB_ENOMEM ? OB_ENOMEM : OB_EINVAL, "CA key: invalid base64");
        goto out;
    }
    rc = OB_EINVAL;
    if (bin_len < sizeof(OPENSSH_MAGIC) || memcmp(bin, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC)) != 0) {
        ob_fail(err, rc, "CA key: not an openssh-key-v1 key");
        goto out;
    }
    r.p = bin + sizeof(OPENSSH_MAGIC);
    r.left = bin_len - sizeof(OPENSSH_MAGIC);
    if (sshca_get_string(&r, &cipher, &cipher_len) != 0 ||
        sshca_get_string(&r, &kdf, &kdf_len) != 0 ||
        sshca_get_string(&r, &kdfopts, &kdfopts_len) != 0 || sshca_get_u32(&r, &nkeys) != 0) {
        ob_fail(err, rc, "CA key: truncated header");
        goto out;
    }
    if (!str_eq(cipher, cipher_len, "none") || !str_eq(kdf, kdf_len, "none") || kdfopts_len != 0) {
        ob_fail(err, rc, "CA key: encrypted keys are not supported (ssh-keygen -N '')");
        goto out;
    }
    if (nkeys != 1) {
        ob_fail(err, rc, "CA key: the file must hold exactly one key");
        goto out;
    }
    if (sshca_get_string(&r, &pub, &pub_len) != 0 || sshca_get_string(&r, &priv, &priv_len) != 0 ||
        r.left != 0) {
        ob_fail(err, rc, "CA key: malformed key sections");
        goto out;
    }
    rc = parse_private_section(priv, priv_len, pub, pub_len, out, err);
out:
    if (bin != NULL) {
        OPENSSL_cleanse(bin, bin_len);
        free(bin);
    }
    OPENSSL_cleanse(b64, b64_len);
    free(b64);
    return rc;
}

static int load_pem(const char *data, size_t len, struct sshca_ca **out, struct ob_error *err)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    EVP_PKEY *pkey = NULL;
    unsigned char seed[32];
    size_t seed_len = sizeof(seed);
    int rc;

    if (bio == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    /* A NULL password callback with an empty password: encrypted PEM fails. */
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    ERR_clear_error(); /* PEM tries every decoder; failed attempts queue errors */
    if (pkey == NULL)
        return ob_fail(err, OB_EINVAL, "CA key: not a readable (unencrypted) PEM private key");
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_private_key(pkey, seed, &seed_len) != 1 || seed_len != 32) {
        EVP_PKEY_free(pkey);
        return ob_fail(err, OB_EINVAL, "CA key: not an Ed25519 key");
    }
    EVP_PKEY_free(pkey);
    rc = ca_from_seed(seed, out, err);
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
}

int sshca_ca_load(const char *data, size_t len, struct sshca_ca **out, struct ob_error *err)
{
    *out = NULL;
    if (len > SSHCA_PRIVKEY_MAX)
        return ob_fail(err, OB_ETOOLARGE, "CA key longer than %d bytes", SSHCA_PRIVKEY_MAX);
    if (memmem(data, len, OPENSSH_BEGIN, strlen(OPENSSH_BEGIN)) != NULL)
        return load_openssh(data, len, out, err);
    if (memmem(data, len, "-----BEGIN PRIVATE KEY-----", 27) != NULL)
        return load_pem(data, len, out, err);
    return ob_fail(err, OB_EINVAL,
                   "CA key: expected an OpenSSH private key (ssh-keygen -t ed25519 -N '') or a "
                   "PEM PKCS#8 Ed25519 key");
}

void sshca_ca_free(struct sshca_ca *ca)
{
    if (ca == NULL)
        return;
    EVP_PKEY_free(ca->pkey);
    OPENSSL_cleanse(ca, sizeof(*ca));
    free(ca);
}
