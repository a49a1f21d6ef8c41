/*
 * cert.c - OpenSSH user certificates (PROTOCOL.certkeys) signed by the
 * Ed25519 CA, the CA's public key line, and source-address lists.
 */
#include "sshca/sshca.h"

#include "sshca/internal.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_SUFFIX        "-cert-v01@openssh.com"
#define SOURCE_MAX_ENTRIES 16

/* Sorted by name, as PROTOCOL.certkeys requires; each has empty data. */
static const char *const cert_extensions[] = {
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
};

size_t sshca_ca_pubkey_blob(const struct sshca_ca *ca, unsigned char *out)
{
    struct sshca_buf b = {0};
    size_t n = 0;

    sshca_buf_cstring(&b, "ssh-ed25519");
    sshca_buf_string(&b, ca->pub, sizeof(ca->pub));
    if (!b.failed && b.len == SSHCA_CA_BLOB_LEN) {
        memcpy(out, b.data, b.len);
        n = b.len;
    }
    sshca_buf_release(&b);
    return n;
}

int sshca_ca_pubkey_line(const struct sshca_ca *ca, const char *comment, char **out,
                         struct ob_error *err)
{
    unsigned char blob[SSHCA_CA_BLOB_LEN];
    char *b64 = NULL;
    size_t cap;

    *out = NULL;
    if (sshca_ca_pubkey_blob(ca, blob) != SSHCA_CA_BLOB_LEN ||
        sshca_b64_encode(blob, sizeof(blob), &b64) != 0)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    if (comment == NULL)
        comment = "";
    cap = strlen(b64) + strlen(comment) + 16;
    *out = malloc(cap);
    if (*out == NULL) {
        free(b64);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    snprintf(*out, cap, "ssh-ed25519 %s%s%s", b64, comment[0] != '\0' ? " " : "", comment);
    free(b64);
    return 0;
}

/* ---- source addresses --------------------------------------------------------- */

/* One entry "ADDR[/LEN]" into "ADDR/LEN" (canonical text of the address). */
static int source_entry(const char *s, size_t n, char *out, size_t cap, struct ob_error *err)
{
    char text[INET6_ADDRSTRLEN + 8];
    unsigned char addr[16];
    const char *slash;
    int family, maxlen, prefix;
    char canon[INET6_ADDRSTRLEN];

    if (n == 0)
        return ob_fail(err, OB_EINVAL, "source address: empty entry");
    if (n >= sizeof(text))
        return ob_fail(err, OB_EINVAL, "source address '%.*s' is not a CIDR",
                       (int)(n > 64 ? 64 : n), s);
    memcpy(text, s, n);
    text[n] = '\0';
    slash = strchr(text, '/');
    if (slash != NULL)
        text[slash - text] = '\0';
    family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
    maxlen = family == AF_INET6 ? 128 : 32;
    if (inet_pton(family, text, addr) != 1)
        return ob_fail(err, OB_EINVAL, "source address '%.*s' is not a CIDR", (int)n, s);
    prefix = maxlen;
    if (slash != NULL) {
        const char *d = slash + 1;
        prefix = 0;
        if (*d == '\0' || strlen(d) > 3 || (d[0] == '0' && d[1] != '\0'))
            return ob_fail(err, OB_EINVAL, "source address '%.*s': bad prefix length", (int)n, s);
        for (; *d != '\0'; d++) {
            if (*d < '0' || *d > '9')
                return ob_fail(err, OB_EINVAL, "source address '%.*s': bad prefix length", (int)n,
                               s);
            prefix = prefix * 10 + (*d - '0');
        }
        if (prefix > maxlen)
            return ob_fail(err, OB_EINVAL, "source address '%.*s': prefix longer than %d", (int)n,
                           s, maxlen);
    }
    if (prefix == 0)
        return ob_fail(err, OB_EINVAL,
                       "source address '%.*s' allows every address; give the user's own", (int)n,
                       s);
    for (int bit = prefix; bit < maxlen; bit++)
        if (addr[bit / 8] & (0x80 >> (bit % 8)))
            return ob_fail(err, OB_EINVAL, "source address '%.*s' has host bits set beyond /%d",
                           (int)n, s, prefix);
    if (inet_ntop(family, addr, canon, sizeof(canon)) == NULL)
        return ob_fail(err, OB_EINTERNAL, "inet_ntop failed");
    if ((size_t)snprintf(out, cap, "%s/%d", canon, prefix) >= cap)
        return ob_fail(err, OB_ETOOLARGE, "source address list too long");
    return 0;
}

int sshca_source_normalize(const char *list, char *out, size_t cap, struct ob_error *err)
{
    const char *p = list;
    size_t used = 0, count = 0;
    char one[INET6_ADDRSTRLEN + 8];

    if (cap == 0)
        return ob_fail(err, OB_ETOOLARGE, "source address list too long");
    out[0] = '\0';
    if (list == NULL || list[0] == '\0')
        return ob_fail(err, OB_EINVAL, "source address list is empty");
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        int rc = source_entry(p, n, one, sizeof(one), err);
        size_t olen;
        if (rc != 0)
            return rc;
        if (++count > SOURCE_MAX_ENTRIES)
            return ob_fail(err, OB_EINVAL, "more than %d source addresses", SOURCE_MAX_ENTRIES);
        olen = strlen(one);
        /* Duplicates: compare whole entries of the list built so far. */
        for (const char *q = out; *q != '\0';) {
            const char *e = strchr(q, ',');
            size_t qn = e != NULL ? (size_t)(e - q) : strlen(q);
            if (qn == olen && memcmp(q, one, olen) == 0)
                return ob_fail(err, OB_EINVAL, "source address %s given twice", one);
            q += qn + (e != NULL ? 1 : 0);
        }
        if (used + olen + (used > 0 ? 1 : 0) + 1 > cap)
            return ob_fail(err, OB_ETOOLARGE, "source address list too long");
        if (used > 0)
            out[used++] = ',';
        memcpy(out + used, one, olen + 1);
        used += olen;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

/* ---- certificates ------------------------------------------------------------ */

static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int check_request(const struct sshca_cert_request *req, struct ob_error *err)
{
    if (req->key == NULL || req->key->blob == NULL)
        return ob_fail(err, OB_EINVAL, "no public key to certify");
    /* An empty principals field means "any user" to sshd: never issue one. */
    if (req->principal_count == 0 || req->principals == NULL)
        return ob_fail(err, OB_EINVAL, "a certificate needs at least one principal");
    if (req->principal_count > SSHCA_MAX_PRINCIPALS)
        return ob_fail(err, OB_EINVAL, "more than %d principals", SSHCA_MAX_PRINCIPALS);
    for (size_t i = 0; i < req->principal_count; i++) {
        const char *pr = req->principals[i];
        if (pr == NULL || !text_ok(pr, SSHCA_PRINCIPAL_MAX) || strchr(pr, ',') != NULL ||
            strchr(pr, ' ') != NULL)
            return ob_fail(err, OB_EINVAL,
                           "principal %zu is empty, too long or holds a comma, space or "
                           "control character",
                           i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->principals[j], pr) == 0)
                return ob_fail(err, OB_EINVAL, "principal '%s' given twice", pr);
    }
    if (req->key_id == NULL || !text_ok(req->key_id, SSHCA_KEY_ID_MAX))
        return ob_fail(err, OB_EINVAL, "key id must be 1..%d printable bytes", SSHCA_KEY_ID_MAX);
    if (req->valid_before <= req->valid_after)
        return ob_fail(err, OB_EINVAL, "valid before must be later than valid after");
    if (req->source_address != NULL &&
        (req->source_address[0] == '\0' || strlen(req->source_address) >= SSHCA_SOURCE_MAX))
        return ob_fail(err, OB_EINVAL, "source address list empty or too long");
    return 0;
}

static int sign_ed25519(const struct sshca_ca *ca, const unsigned char *msg, size_t len,
                        unsigned char sig[64])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = 64;
    int ok;

    if (ctx == NULL)
        return OB_ENOMEM;
    ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, ca->pkey) == 1 &&
         EVP_DigestSign(ctx, sig, &sig_len, msg, len) == 1 && sig_len == 64;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : OB_EINTERNAL;
}

int sshca_cert_sign(const struct sshca_ca *ca, const struct sshca_cert_request *req,
                    unsigned char **blob, size_t *blob_len, struct ob_error *err)
{
    struct sshca_buf b = {0}, sub = {0}, inner = {0};
    struct sshca_reader r;
    const unsigned char *type;
    size_t type_len;
    unsigned char nonce[SSHCA_NONCE_LEN], sig[64], cakey[SSHCA_CA_BLOB_LEN];
    char cert_type[64];
    int rc;

    *blob = NULL;
    *blob_len = 0;
    rc = check_request(req, err);
    if (rc != 0)
        return rc;
    r.p = req->key->blob;
    r.left = req->key->blob_len;
    if (sshca_get_string(&r, &type, &type_len) != 0 ||
        type_len + sizeof(CERT_SUFFIX) > sizeof(cert_type))
        return ob_fail(err, OB_EINVAL, "malformed public key blob");
    memcpy(cert_type, type, type_len);
    memcpy(cert_type + type_len, CERT_SUFFIX, sizeof(CERT_SUFFIX));
    if (req->nonce != NULL)
        memcpy(nonce, req->nonce, sizeof(nonce));
    else if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return ob_fail(err, OB_EINTERNAL, "no random bytes for the nonce");

    sshca_buf_cstring(&b, cert_type);
    sshca_buf_string(&b, nonce, sizeof(nonce));
    /* The key's own fields follow its type string unchanged (e n, curve Q, pk). */
    sshca_buf_bytes(&b, r.p, r.left);
    sshca_buf_u64(&b, req->serial);
    sshca_buf_u32(&b, SSHCA_CERT_TYPE_USER);
    sshca_buf_cstring(&b, req->key_id);
    for (size_t i = 0; i < req->principal_count; i++)
        sshca_buf_cstring(&sub, req->principals[i]);
    sshca_buf_string(&b, sub.data, sub.len);
    sshca_buf_release(&sub);
    sshca_buf_u64(&b, req->valid_after);
    sshca_buf_u64(&b, req->valid_before);
    /* Critical options: (name, string-in-a-string data), sorted by name. */
    if (req->source_address != NULL) {
        sshca_buf_cstring(&sub, "source-address");
        sshca_buf_cstring(&inner, req->source_address);
        sshca_buf_string(&sub, inner.data, inner.len);
        sshca_buf_release(&inner);
    }
    sshca_buf_string(&b, sub.data, sub.len);
    sshca_buf_release(&sub);
    for (size_t i = 0; i < sizeof(cert_extensions) / sizeof(cert_extensions[0]); i++) {
        sshca_buf_cstring(&sub, cert_extensions[i]);
        sshca_buf_string(&sub, "", 0);
    }
    sshca_buf_string(&b, sub.data, sub.len);
    sshca_buf_release(&sub);
    sshca_buf_string(&b, "", 0); /* reserved */
    sshca_ca_pubkey_blob(ca, cakey);
    sshca_buf_string(&b, cakey, sizeof(cakey));
    if (b.failed || sub.failed || inner.failed) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = sign_ed25519(ca, b.data, b.len, sig);
    if (rc != 0) {
        ob_fail(err, rc, "signing the certificate failed");
        goto out;
    }
    sshca_buf_cstring(&sub, "ssh-ed25519");
    sshca_buf_string(&sub, sig, sizeof(sig));
    sshca_buf_string(&b, sub.data, sub.len);
    if (b.failed || sub.failed) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    *blob = b.data;
    *blob_len = b.len;
    b.data = NULL;
    rc = 0;
out:
    sshca_buf_release(&b);
    sshca_buf_release(&sub);
    sshca_buf_release(&inner);
    OPENSSL_cleanse(nonce, sizeof(nonce));
    return rc;
}

int sshca_cert_line(const unsigned char *blob, size_t blob_len, const char *comment, char **out,
                    struct ob_error *err)
{
    struct sshca_reader r = {blob, blob_len};
    const unsigned char *type;
    size_t type_len, cap;
    char *b64 = NULL;
    int rc;

    *out = NULL;
    if (sshca_get_string(&r, &type, &type_len) != 0 || type_len == 0 || type_len > 64)
        return ob_fail(err, OB_EINVAL, "malformed certificate");
    rc = sshca_b64_encode(blob, blob_len, &b64);
    if (rc != 0)
        return ob_fail(err, rc, "cannot encode the certificate");
    if (comment == NULL)
        comment = "";
    cap = type_len + strlen(b64) + strlen(comment) + 4;
    *out = malloc(cap);
    if (*out == NULL) {
        free(b64);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    snprintf(*out, cap, "%.*s %s%s%s", (int)type_len, (const char *)type, b64,
             comment[0] != '\0' ? " " : "", comment);
    free(b64);
    return 0;
}
