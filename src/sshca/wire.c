/*
 * wire.c - the SSH wire encoding (RFC 4251 section 5: uint32, uint64,
 * string) and base64, for the key parsers and the certificate writer.
 */
#include "sshca/sshca.h"

#include "util/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void buf_reserve(struct sshca_buf *b, size_t more)
{
    size_t want, cap;
    unsigned char *p;

    if (b->failed)
        return;
    if (more > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return;
    }
    want = b->len + more;
    if (want <= b->cap)
        return;
    cap = b->cap != 0 ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    /* Not realloc: the old bytes may be key material and are wiped first. */
    p = malloc(cap);
    if (p == NULL) {
        b->failed = 1;
        return;
    }
    if (b->len > 0)
        memcpy(p, b->data, b->len);
    if (b->data != NULL) {
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
}

void sshca_buf_bytes(struct sshca_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (b->failed || n == 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void sshca_buf_u32(struct sshca_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};

    sshca_buf_bytes(b, x, sizeof(x));
}

void sshca_buf_u64(struct sshca_buf *b, uint64_t v)
{
    sshca_buf_u32(b, (uint32_t)(v >> 32));
    sshca_buf_u32(b, (uint32_t)v);
}

void sshca_buf_string(struct sshca_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        b->failed = 1;
        return;
    }
    sshca_buf_u32(b, (uint32_t)n);
    sshca_buf_bytes(b, p, n);
}

void sshca_buf_cstring(struct sshca_buf *b, const char *s)
{
    sshca_buf_string(b, s, strlen(s));
}

void sshca_buf_release(struct sshca_buf *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL) {
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }
    memset(b, 0, sizeof(*b));
}

int sshca_get_u32(struct sshca_reader *r, uint32_t *v)
{
    if (r->left < 4)
        return OB_EINVAL;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    r->left -= 4;
    return 0;
}

int sshca_get_u64(struct sshca_reader *r, uint64_t *v)
{
    uint32_t hi, lo;

    if (r->left < 8)
        return OB_EINVAL;
    sshca_get_u32(r, &hi);
    sshca_get_u32(r, &lo);
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

int sshca_get_string(struct sshca_reader *r, const unsigned char **p, size_t *n)
{
    struct sshca_reader save = *r;
    uint32_t len;

    if (sshca_get_u32(r, &len) != 0 || len > r->left) {
        *r = save;
        return OB_EINVAL;
    }
    *p = r->p;
    *n = len;
    r->p += len;
    r->left -= len;
    return 0;
}

int sshca_b64_encode(const unsigned char *in, size_t n, char **out)
{
    size_t cap;
    char *s;

    *out = NULL;
    if (n > (size_t)INT32_MAX / 2)
        return OB_ETOOLARGE;
    cap = 4 * ((n + 2) / 3) + 1;
    s = malloc(cap);
    if (s == NULL)
        return OB_ENOMEM;
    EVP_EncodeBlock((unsigned char *)s, in, (int)n);
    *out = s;
    return 0;
}

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

/* Own decoder: EVP_DecodeBlock accepts whitespace and hides padding. */
int sshca_b64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len)
{
    unsigned char *o;
    size_t len = 0, pad = 0;

    *out = NULL;
    *out_len = 0;
    if (n == 0 || n % 4 != 0)
        return OB_EINVAL;
    if (in[n - 1] == '=')
        pad++;
    if (in[n - 2] == '=')
        pad++;
    o = malloc(n / 4 * 3);
    if (o == NULL)
        return OB_ENOMEM;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int last = i + 4 == n;
        for (int k = 0; k < 4; k++) {
            v[k] = b64_value((unsigned char)in[i + (size_t)k]);
            if (v[k] < 0 && !(last && in[i + (size_t)k] == '=' && k >= 4 - (int)pad)) {
                free(o);
                return OB_EINVAL;
            }
            if (v[k] < 0)
                v[k] = 0;
        }
        o[len++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (!last || pad < 2)
            o[len++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        if (!last || pad < 1)
            o[len++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
        /* Non-canonical trailing bits are refused: one encoding per blob. */
        if (last && ((pad == 2 && (v[1] & 15) != 0) || (pad == 1 && (v[2] & 3) != 0))) {
            free(o);
            return OB_EINVAL;
        }
    }
    *out = o;
    *out_len = len;
    return 0;
}
