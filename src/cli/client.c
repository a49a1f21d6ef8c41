/*
 * client.c - the CLI's HTTP client (libcurl easy interface: a CLI may block).
 */
#include "cli/cli.h"
#include "opsbell_version.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_DEFAULT_URL  "http://127.0.0.1:8080"
#define CLIENT_MAX_RESPONSE (16 * 1024 * 1024)

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
    struct strbuf *sb = userp;
    size_t n = size * nmemb;

    if (sb->len + n > CLIENT_MAX_RESPONSE)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    strbuf_add(sb, data, n);
    return n;
}

void client_escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

int client_call(const char *method, const char *path, json_t *body, json_t **out,
                struct ob_error *err)
{
    const char *base = getenv("OPSBELL_URL");
    const char *token = getenv("OPSBELL_TOKEN");
    struct strbuf url = STRBUF_INIT, auth = STRBUF_INIT, reply = STRBUF_INIT;
    struct curl_slist *headers = NULL;
    char *body_text = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURL *curl = NULL;
    CURLcode cc;
    int rc = 0;

    *out = NULL;
    if (base == NULL || base[0] == '\0')
        base = CLIENT_DEFAULT_URL;
    strbuf_adds(&url, base);
    while (url.len > 0 && url.buf[url.len - 1] == '/')
        url.buf[--url.len] = '\0';
    strbuf_adds(&url, path);

    curl = curl_easy_init();
    if (curl == NULL)
        return ob_fail(err, OB_EINTERNAL, "cannot initialise libcurl");
    curl_easy_setopt(curl, CURLOPT_URL, url.buf);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "opsbell-cli/" OPSBELL_VERSION);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (token != NULL && token[0] != '\0') {
        strbuf_addf(&auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth.buf);
    }
    if (body != NULL) {
        body_text = json_dumps(body, JSON_COMPACT);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text != NULL ? body_text : "");
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = ob_fail(err, OB_EIO, "cannot reach opsbell at %s: %s", base,
                     curl_err[0] != '\0' ? curl_err : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (reply.len > 0) {
        json_error_t jerr;
        *out = json_loadb(reply.buf, reply.len, 0, &jerr);
    }
    if (status >= 400) {
        json_t *e = *out != NULL ? json_object_get(*out, "error") : NULL;
        const char *msg = json_is_string(e) ? json_string_value(e) : "request failed";
        int code = status == 401   ? OB_EUNAUTH
                   : status == 403 ? OB_EFORBIDDEN
                   : status == 404 ? OB_ENOTFOUND
                   : status < 500  ? OB_EINVAL
                                   : OB_EINTERNAL;
        rc = ob_fail(err, code, "%s (HTTP %ld)", msg, status);
        if (status != 422) { /* 422 bodies carry details the caller prints */
            json_decref(*out);
            *out = NULL;
        }
        goto out;
    }
    if (reply.len > 0 && *out == NULL)
        rc = ob_fail(err, OB_EINVAL, "the server sent a reply that is not JSON");
out:
    if (auth.buf != NULL)
        memset(auth.buf, 0, auth.len);
    strbuf_release(&auth);
    strbuf_release(&url);
    strbuf_release(&reply);
    curl_slist_free_all(headers);
    free(body_text);
    curl_easy_cleanup(curl);
    return rc;
}
