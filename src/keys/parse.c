/*
 * parse.c - authorized_keys-style lines and key files (pure functions).
 *
 * A line is "TYPE BASE64 [COMMENT]".  The blob is decoded and checked as
 * OpenSSH does (PROTOCOL, RFC 4253 6.6, RFC 5656 3.1): its embedded type is
 * the written type, every length fits, nothing trails; RSA's exponent and
 * modulus are well-formed positive mpints and the modulus is large enough;
 * an ECDSA key names the curve of its type and carries an uncompressed point
 * of that curve's size.
 */
#include "keys/keys.h"

#include "util/error.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keytype {
    const char *name;
    const char *curve; /* ecdsa: the curve name inside the blob */
    unsigned bits;     /* fixed size (ed25519, ecdsa); 0 for rsa */
    size_t point_len;  /* ed25519 key or ecdsa point length */
};

static const struct keytype keytypes[] = {
    {"ssh-ed25519", NULL, 256, 32},
    {"ecdsa-sha2-nistp256", "nistp256", 256, 65},
    {"ecdsa-sha2-nistp384", "nistp384", 384, 97},
    {"ecdsa-sha2-nistp521", "nistp521", 521, 133},
    {"ssh-rsa", NULL, 0, 0},
};

static const struct keytype *keytype_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++)
        if (strlen(keytypes[i].name) == len && memcmp(keytypes[i].name, name, len) == 0)
            return &keytypes[i];
    return NULL;
}

/* Does this token name a key type at all (accepted or not)? */
static int token_is_keytype(const char *s, size_t len)
{
    static const char *const prefixes[] = {"ssh-", "ecdsa-", "sk-"};

    if (keytype_find(s, len) != NULL)
        return 1;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (len > n && memcmp(s, prefixes[i], n) == 0)
            return 1;
    }
    return 0;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 with padding: length a multiple of 4, '=' only at the end,
 * no stray bits.  out needs len / 4 * 3 bytes.  Returns 0 or -1. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t *out_len)
{
    size_t pad = 0, o = 0;

    if (len == 0 || len % 4 != 0)
        return -1;
    if (in[len - 1] == '=')
        pad++;
    if (in[len - 2] == '=')
        pad++;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int j = 0; j < 4; j++) {
            int last_group = i + 4 == len;
            if (last_group && in[i + j] == '=' && (size_t)j >= 4 - pad) {
                v[j] = 0;
                continue;
            }
            v[j] = b64_value((unsigned char)in[i + j]);
            if (v[j] < 0)
                return -1;
        }
        uint32_t n =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (unsigned char)(n >> 16);
        if (i + 4 < len || pad < 2)
            out[o++] = (unsigned char)(n >> 8);
        if (i + 4 < len || pad < 1)
            out[o++] = (unsigned char)n;
        if (i + 4 == len && ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)))
            return -1; /* bits beyond the data: not canonical */
    }
    *out_len = o;
    return 0;
}

/* base64 without padding, as ssh-keygen prints fingerprints. */
static void b64_encode_nopad(const unsigned char *in, size_t len, char *out, size_t cap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < cap; i += 3) {
        uint32_t n = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            n |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            n |= in[i + 2];
        out[o++] = tbl[(n >> 18) & 63];
        out[o++] = tbl[(n >> 12) & 63];
        if (i + 1 < len)
            out[o++] = tbl[(n >> 6) & 63];
        if (i + 2 < len)
            out[o++] = tbl[n & 63];
    }
    out[o] = '\0';
}

/* ---- the SSH wire format ---- */

struct reader {
    const unsigned char *p;
    size_t left;
};

/* A string: uint32 length + bytes. */
static int read_string(struct reader *r, const unsigned char **s, size_t *len)
{
    uint32_t n;

    if (r->left < 4)
        return -1;
    n = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    if (n > r->left - 4)
        return -1;
    *s = r->p + 4;
    *len = n;
    r->p += 4 + n;
    r->left -= 4 + n;
    return 0;
}

/* A positive mpint in canonical form; *bits = its size in bits. */
static int read_mpint_positive(struct reader *r, unsigned *bits)
{
    const unsigned char *s;
    size_t len;

    if (read_string(r, &s, &len) != 0 || len == 0)
        return -1;
    if (s[0] & 0x80)
        return -1; /* negative */
    if (s[0] == 0) {
        if (len == 1 || !(s[1] & 0x80))
            return -1; /* zero, or a superfluous leading zero */
        s++;
        len--;
    }
    unsigned top = 0;
    for (unsigned char b = s[0]; b != 0; b >>= 1)
        top++;
    *bits = (unsigned)((len - 1) * 8 + top);
    return 0;
}

static int check_blob(const struct keytype *kt, const unsigned char *blob, size_t len,
                      unsigned *bits, struct ob_error *err)
{
    struct reader r = {blob, len};
    const unsigned char *s;
    size_t n;

    if (read_string(&r, &s, &n) != 0)
        return ob_fail(err, OB_EINVAL, "%s key blob is truncated", kt->name);
    if (n != strlen(kt->name) || memcmp(s, kt->name, n) != 0)
        return ob_fail(err, OB_EINVAL, "%s key whose blob holds another key type", kt->name);
    if (strcmp(kt->name, "ssh-rsa") == 0) {
        unsigned ebits, nbits;
        const unsigned char *e;
        if (read_mpint_positive(&r, &ebits) != 0)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key with a malformed exponent");
        e = r.p - 1; /* last byte of e: it must be odd */
        if (ebits < 2 || ebits > 64 || !(*e & 1))
            return ob_fail(err, OB_EINVAL, "ssh-rsa key with an invalid exponent");
        if (read_mpint_positive(&r, &nbits) != 0)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key with a malformed modulus");
        if (!(r.p[-1] & 1))
            return ob_fail(err, OB_EINVAL, "ssh-rsa key with an even modulus");
        if (nbits < KEYS_RSA_MIN_BITS)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key of %u bits (at least %d)", nbits,
                           KEYS_RSA_MIN_BITS);
        if (nbits > KEYS_RSA_MAX_BITS)
            return ob_fail(err, OB_EINVAL, "ssh-rsa key of %u bits (at most %d)", nbits,
                           KEYS_RSA_MAX_BITS);
        *bits = nbits;
    } else {
        if (kt->curve != NULL) {
            if (read_string(&r, &s, &n) != 0)
                return ob_fail(err, OB_EINVAL, "%s key blob is truncated", kt->name);
            if (n != strlen(kt->curve) || memcmp(s, kt->curve, n) != 0)
                return ob_fail(err, OB_EINVAL, "%s key names another curve", kt->name);
        }
        if (read_string(&r, &s, &n) != 0)
            return ob_fail(err, OB_EINVAL, "%s key blob is truncated", kt->name);
        if (n != kt->point_len || (kt->curve != NULL && s[0] != 0x04))
            return ob_fail(err, OB_EINVAL, "%s key of the wrong length", kt->name);
        *bits = kt->bits;
    }
    if (r.left != 0)
        return ob_fail(err, OB_EINVAL, "%s key blob has %zu trailing bytes", kt->name, r.left);
    return 0;
}

/* ---- one line ---- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int comment_check(const char *s, size_t len, struct ob_error *err)
{
    size_t i = 0, start;

    if (len > KEYS_COMMENT_MAX)
        return ob_fail(err, OB_EINVAL, "comment longer than %d bytes", KEYS_COMMENT_MAX);
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return ob_fail(err, OB_EINVAL, "comment contains a control character");
        if (c < 0x80) {
            i++;
            continue;
        }
        char seq[5] = {0};
        size_t n = len - i < 4 ? len - i : 4;
        memcpy(seq, s + i, n);
        size_t k = ob_utf8_sequence_len((const unsigned char *)seq);
        if (k == 0)
            return ob_fail(err, OB_EINVAL, "comment is not valid UTF-8");
        i += k;
    }
    /* A second key in the comment: a key type followed by a blob, or a
     * bare blob (every SSH key blob starts with "AAAA": a length < 2^24). */
    int prev_type = 0;
    for (i = 0; i < len;) {
        while (i < len && s[i] == ' ')
            i++;
        start = i;
        while (i < len && s[i] != ' ')
            i++;
        if (i == start)
            break;
        int blob_like = i - start >= 16 && memcmp(s + start, "AAAA", 4) == 0;
        if (blob_like && (prev_type || i - start >= 60))
            return ob_fail(err, OB_EINVAL, "more than one key on a line");
        prev_type = token_is_keytype(s + start, i - start);
    }
    return 0;
}

static int type_refusal(const char *tok, size_t len, struct ob_error *err)
{
    int shown = len > 40 ? 40 : (int)len;

    if (memchr(tok, '=', len) != NULL || memchr(tok, '"', len) != NULL ||
        memchr(tok, ',', len) != NULL)
        return ob_fail(err, OB_EINVAL, "options before the key type are not allowed");
    if (len >= 3 && memcmp(tok, "sk-", 3) == 0)
        return ob_fail(err, OB_EINVAL, "security-key (sk-*) keys are not accepted");
    if (len == 7 && memcmp(tok, "ssh-dss", 7) == 0)
        return ob_fail(err, OB_EINVAL, "DSA keys are not accepted");
    static const char cert[] = "-cert-v01@openssh.com";
    if (len > sizeof(cert) - 1 &&
        memcmp(tok + len - (sizeof(cert) - 1), cert, sizeof(cert) - 1) == 0)
        return ob_fail(err, OB_EINVAL, "certificates are not accepted as keys");
    if (token_is_keytype(tok, len)) {
        for (int i = 0; i < shown; i++)
            if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e)
                return ob_fail(err, OB_EINVAL, "unsupported key type");
        return ob_fail(err, OB_EINVAL, "unsupported key type '%.*s'", shown, tok);
    }
    return ob_fail(err, OB_EINVAL, "not a public key (expected a key type such as ssh-ed25519)");
}

/* Is there an accepted key type among the tokens of line after `from`? */
static int later_keytype(const char *line, size_t len, size_t from)
{
    size_t i = from, start;

    while (i < len) {
        while (i < len && is_blank(line[i]))
            i++;
        start = i;
        while (i < len && !is_blank(line[i]))
            i++;
        if (i > start && keytype_find(line + start, i - start) != NULL)
            return 1;
    }
    return 0;
}

int keys_parse_line(const char *line, size_t len, struct keys_key *out, struct ob_error *err)
{
    const struct keytype *kt;
    const char *type, *b64, *comment;
    size_t type_len, b64_len, comment_len, i = 0, blob_len = 0;
    unsigned char *blob = NULL;
    unsigned char digest[32];
    unsigned bits = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > KEYS_LINE_MAX)
        return ob_fail(err, OB_ETOOLARGE, "line longer than %d bytes", KEYS_LINE_MAX);
    if (memchr(line, '\0', len) != NULL)
        return ob_fail(err, OB_EINVAL, "line contains a NUL byte");
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len)
        return ob_fail(err, OB_EINVAL, "empty line");
    type = line + i;
    while (i < len && !is_blank(line[i]))
        i++;
    type_len = (size_t)(line + i - type);
    kt = keytype_find(type, type_len);
    if (kt == NULL && later_keytype(line, len, i))
        return ob_fail(err, OB_EINVAL, "options before the key type are not allowed");
    if (kt == NULL)
        return type_refusal(type, type_len, err);
    while (i < len && is_blank(line[i]))
        i++;
    b64 = line + i;
    while (i < len && !is_blank(line[i]))
        i++;
    b64_len = (size_t)(line + i - b64);
    if (b64_len == 0)
        return ob_fail(err, OB_EINVAL, "%s key without its base64 blob", kt->name);
    while (i < len && is_blank(line[i]))
        i++;
    comment = line + i;
    comment_len = len - i;
    while (comment_len > 0 && is_blank(comment[comment_len - 1]))
        comment_len--;

    blob = malloc(b64_len / 4 * 3 + 3);
    if (blob == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    if (b64_decode(b64, b64_len, blob, &blob_len) != 0) {
        rc = ob_fail(err, OB_EINVAL, "%s key whose blob is not valid base64", kt->name);
        goto out;
    }
    rc = check_blob(kt, blob, blob_len, &bits, err);
    if (rc != 0)
        goto out;
    rc = comment_check(comment, comment_len, err);
    if (rc != 0)
        goto out;
    if (EVP_Digest(blob, blob_len, digest, NULL, EVP_sha256(), NULL) != 1) {
        rc = ob_fail(err, OB_EINTERNAL, "SHA-256 failed");
        goto out;
    }
    memcpy(out->fingerprint, "SHA256:", 7);
    b64_encode_nopad(digest, sizeof(digest), out->fingerprint + 7, sizeof(out->fingerprint) - 7);
    out->type = kt->name;
    out->bits = bits;
    out->blob_b64 = strndup(b64, b64_len);
    out->comment = strndup(comment, comment_len);
    if (out->blob_b64 == NULL || out->comment == NULL) {
        keys_key_release(out);
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(blob);
    return rc;
}

void keys_key_release(struct keys_key *k)
{
    if (k == NULL)
        return;
    free(k->blob_b64);
    free(k->comment);
    memset(k, 0, sizeof(*k));
}

char *keys_key_format(const struct keys_key *k)
{
    size_t cap = strlen(k->type) + strlen(k->blob_b64) + strlen(k->comment) + 3;
    char *s = malloc(cap);

    if (s == NULL)
        return NULL;
    if (k->comment[0] != '\0')
        snprintf(s, cap, "%s %s %s", k->type, k->blob_b64, k->comment);
    else
        snprintf(s, cap, "%s %s", k->type, k->blob_b64);
    return s;
}

/* ---- a whole file ---- */

static int file_problem(struct keys_file *f, unsigned line, const char *msg)
{
    struct keys_problem *p = realloc(f->problems, (f->problem_count + 1) * sizeof(*f->problems));

    if (p == NULL)
        return OB_ENOMEM;
    f->problems = p;
    p[f->problem_count].line = line;
    p[f->problem_count].message = strdup(msg);
    if (p[f->problem_count].message == NULL)
        return OB_ENOMEM;
    f->problem_count++;
    return 0;
}

static void file_drop_keys(struct keys_file *f)
{
    for (size_t i = 0; i < f->count; i++)
        keys_key_release(&f->keys[i]);
    free(f->keys);
    f->keys = NULL;
    f->count = 0;
}

int keys_parse_file(const char *data, size_t len, struct keys_file *out)
{
    struct ob_error err;
    size_t pos = 0;
    unsigned lineno = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > KEYS_FILE_MAX) {
        char msg[96];
        snprintf(msg, sizeof(msg), "file larger than %d bytes", KEYS_FILE_MAX);
        return file_problem(out, 0, msg);
    }
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
        size_t k = 0;

        pos += n + (nl != NULL);
        lineno++;
        while (k < n && is_blank(line[k]))
            k++;
        if (k == n || (k + 1 == n && line[k] == '\r') || line[k] == '#')
            continue;
        if (out->count >= KEYS_PER_FILE_MAX) {
            char msg[64];
            snprintf(msg, sizeof(msg), "more than %d keys in one file", KEYS_PER_FILE_MAX);
            rc = file_problem(out, lineno, msg);
            if (rc != 0)
                goto fail;
            break;
        }
        struct keys_key key;
        ob_error_clear(&err);
        rc = keys_parse_line(line, n, &key, &err);
        if (rc == OB_ENOMEM)
            goto fail;
        if (rc != 0) {
            rc = file_problem(out, lineno, err.msg);
            if (rc != 0)
                goto fail;
            continue;
        }
        struct keys_key *keys = realloc(out->keys, (out->count + 1) * sizeof(*keys));
        if (keys == NULL) {
            keys_key_release(&key);
            rc = OB_ENOMEM;
            goto fail;
        }
        out->keys = keys;
        out->keys[out->count++] = key;
    }
    if (out->problem_count > 0)
        file_drop_keys(out);
    else if (out->count == 0)
        return file_problem(out, 0, "no key in the file");
    return 0;
fail:
    keys_file_release(out);
    return OB_ENOMEM;
}

void keys_file_release(struct keys_file *f)
{
    if (f == NULL)
        return;
    file_drop_keys(f);
    for (size_t i = 0; i < f->problem_count; i++)
        free(f->problems[i].message);
    free(f->problems);
    memset(f, 0, sizeof(*f));
}
