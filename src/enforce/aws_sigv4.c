/*
 * aws_sigv4.c - AWS Signature Version 4 (AWS4-HMAC-SHA256), pure:
 *
 *   canonical request = METHOD \n PATH \n SORTED-QUERY \n
 *                       name:value\n ... \n SIGNED-HEADERS \n hex(SHA256(payload))
 *   string to sign    = AWS4-HMAC-SHA256 \n DATE \n SCOPE \n hex(SHA256(canonical request))
 *   key               = HMAC(HMAC(HMAC(HMAC("AWS4" secret, yyyymmdd), region), service),
 *                            "aws4_request")
 *   signature         = hex(HMAC(key, string to sign))
 *
 * Tested against the vectors of AWS's SigV4 test suite (tests/unit/test_aws.c).
 */
#include "enforce/aws.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_MAX_HEADERS 32
#define SIGV4_MAX_PARAMS  256

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);
    hex_encode(md, sizeof(md), out);
}

static int hmac(const unsigned char *key, size_t key_len, const void *msg, size_t msg_len,
                unsigned char out[32])
{
    size_t out_len = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, msg, msg_len, out, 32,
                  &out_len) == NULL ||
        out_len != 32)
        return OB_EINTERNAL;
    return 0;
}

char *aws_uri_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct strbuf sb = STRBUF_INIT;

    strbuf_adds(&sb, "");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            strbuf_addch(&sb, (char)*p);
        } else {
            strbuf_addch(&sb, '%');
            strbuf_addch(&sb, hex[*p >> 4]);
            strbuf_addch(&sb, hex[*p & 15]);
        }
    }
    return strbuf_detach(&sb, NULL);
}

struct param {
    const char *s; /* "name=value" as sent (already encoded) */
    size_t len;
};

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    const char *xe = memchr(x->s, '=', x->len), *ye = memchr(y->s, '=', y->len);
    size_t xk = xe != NULL ? (size_t)(xe - x->s) : x->len;
    size_t yk = ye != NULL ? (size_t)(ye - y->s) : y->len;
    int c = memcmp(x->s, y->s, xk < yk ? xk : yk);

    if (c != 0)
        return c;
    if (xk != yk)
        return xk < yk ? -1 : 1;
    c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : (x->len > y->len);
}

/* The query's parameters sorted by name then value; "a" becomes "a=". */
static int canonical_query(const char *query, struct strbuf *out)
{
    struct param params[SIGV4_MAX_PARAMS];
    size_t n = 0;
    const char *p = query;

    if (query == NULL || query[0] == '\0')
        return 0;
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            if (n == SIGV4_MAX_PARAMS)
                return OB_EINVAL;
            params[n].s = p;
            params[n].len = len;
            n++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    qsort(params, n, sizeof(params[0]), param_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strbuf_addch(out, '&');
        strbuf_add(out, params[i].s, params[i].len);
        if (memchr(params[i].s, '=', params[i].len) == NULL)
            strbuf_addch(out, '=');
    }
    return 0;
}

struct hdr {
    char name[64];
    const char *value;
};

static int hdr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

/* Value trimmed, inner runs of spaces as one. */
static void add_header_value(struct strbuf *sb, const char *v)
{
    int space = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            strbuf_addch(sb, ' ');
        space = 0;
        strbuf_addch(sb, *v);
    }
}

int aws_sigv4_sign(const struct aws_sigv4_input *in, struct aws_sigv4_result *out)
{
    struct hdr hdrs[SIGV4_MAX_HEADERS];
    struct strbuf cr = STRBUF_INIT, sts = STRBUF_INIT, signed_names = STRBUF_INIT,
                  auth = STRBUF_INIT;
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    char hash[65], date[9];
    unsigned char *ksecret = NULL;
    int rc = OB_EINVAL;

    memset(out, 0, sizeof(*out));
    if (in->method == NULL || in->path == NULL || in->amz_date == NULL ||
        strlen(in->amz_date) != 16 || in->region == NULL || in->service == NULL ||
        in->access_key_id == NULL || in->secret == NULL || in->header_count > SIGV4_MAX_HEADERS)
        goto out;
    for (size_t i = 0; i < in->header_count; i++) {
        size_t len = strlen(in->headers[i].name);
        if (len == 0 || len >= sizeof(hdrs[i].name))
            goto out;
        for (size_t j = 0; j <= len; j++) {
            char c = in->headers[i].name[j];
            hdrs[i].name[j] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        hdrs[i].value = in->headers[i].value;
    }
    qsort(hdrs, in->header_count, sizeof(hdrs[0]), hdr_cmp);

    strbuf_addf(&cr, "%s\n%s\n", in->method, in->path);
    if (canonical_query(in->query, &cr) != 0)
        goto out;
    strbuf_addch(&cr, '\n');
    for (size_t i = 0; i < in->header_count; i++) {
        strbuf_addf(&cr, "%s:", hdrs[i].name);
        add_header_value(&cr, hdrs[i].value);
        strbuf_addch(&cr, '\n');
        if (i > 0)
            strbuf_addch(&signed_names, ';');
        strbuf_adds(&signed_names, hdrs[i].name);
    }
    strbuf_addf(&cr, "\n%s\n", strbuf_str(&signed_names));
    sha256_hex(in->payload != NULL ? in->payload : "", in->payload_len, hash);
    strbuf_adds(&cr, hash);

    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    sha256_hex(strbuf_str(&cr), cr.len, hash);
    strbuf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date, date,
                in->region, in->service, hash);

    ksecret = malloc(in->secret_len + 4);
    if (ksecret == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, in->secret, in->secret_len);
    rc = hmac(ksecret, in->secret_len + 4, date, 8, k1);
    if (rc == 0)
        rc = hmac(k1, 32, in->region, strlen(in->region), k2);
    if (rc == 0)
        rc = hmac(k2, 32, in->service, strlen(in->service), k3);
    if (rc == 0)
        rc = hmac(k3, 32, "aws4_request", 12, k4);
    if (rc == 0)
        rc = hmac(k4, 32, strbuf_str(&sts), sts.len, sig);
    if (rc != 0)
        goto out;
    hex_encode(sig, 32, out->signature);
    strbuf_addf(&auth,
                "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                "Signature=%s",
                in->access_key_id, date, in->region, in->service, strbuf_str(&signed_names),
                out->signature);
    out->canonical_request = strbuf_detach(&cr, NULL);
    out->string_to_sign = strbuf_detach(&sts, NULL);
    out->authorization = strbuf_detach(&auth, NULL);
    rc = 0;
out:
    if (ksecret != NULL) {
        OPENSSL_cleanse(ksecret, in->secret_len + 4);
        free(ksecret);
    }
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    OPENSSL_cleanse(k4, sizeof(k4));
    strbuf_release(&cr);
    strbuf_release(&sts);
    strbuf_release(&signed_names);
    strbuf_release(&auth);
    return rc;
}

void aws_sigv4_result_release(struct aws_sigv4_result *r)
{
    if (r == NULL)
        return;
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->authorization);
    memset(r, 0, sizeof(*r));
}
