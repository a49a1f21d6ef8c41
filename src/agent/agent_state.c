/*
 * agent_state.c - the state document of GET /api/v1/agent/state (the
 * protocol is in docs/AGENT.md), ETag values, and the on-disk cache.
 *
 * A document is validated whole before anything of it is used: one bad
 * member refuses all of it, so that the previous state stays in force
 * rather than half of a new one.
 */
#include "agent/agent.h"

#include "keys/keys.h"
#include "sshca/sshca.h"
#include "util/error.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX_DEPTH 8 /* the document is 3 deep; anything deeper is not ours */
#define KRL_MAGIC       "SSHKRL\n\0"
#define KRL_MAGIC_LEN   8

int agent_login_is_valid(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > AGENT_LOGIN_MAX)
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

static int json_depth(json_t *value, int limit)
{
    int deepest = 0;
    const char *key;
    json_t *member;
    size_t i;

    if (!json_is_object(value) && !json_is_array(value))
        return 0;
    if (limit <= 0)
        return 1;
    if (json_is_object(value)) {
        json_object_foreach(value, key, member)
        {
            int d = json_depth(member, limit - 1);
            if (d > deepest)
                deepest = d;
        }
    } else {
        json_array_foreach(value, i, member)
        {
            int d = json_depth(member, limit - 1);
            if (d > deepest)
                deepest = d;
        }
    }
    return deepest + 1;
}

void agent_state_release(struct agent_state *s)
{
    if (s == NULL)
        return;
    free(s->entries);
    for (size_t i = 0; i < s->key_count; i++)
        free(s->keys[i].line);
    free(s->keys);
    free(s->ssh_ca);
    free(s->krl);
    memset(s, 0, sizeof(*s));
}

/* A JSON string without NUL bytes, or NULL. */
static const char *plain_string(json_t *v)
{
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

/* The keys cache's order (keys_cache_write): by login, each login's keys in
 * document order.  Merge sort, because it is stable. */
static void keys_sort(struct agent_key *a, struct agent_key *tmp, size_t n)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    keys_sort(a, tmp, mid);
    keys_sort(a + mid, tmp, n - mid);
    while (i < mid && j < n)
        tmp[k++] = strcmp(a[j].login, a[i].login) < 0 ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

static int parse_keys(json_t *arr, struct agent_state *st, struct ob_error *err)
{
    size_t n = json_array_size(arr), i;
    struct agent_key *keys = NULL, *tmp = NULL;
    json_t *item;
    int rc = 0;

    if (n > AGENT_STATE_MAX_KEYS)
        return ob_fail(err, OB_ETOOLARGE, "\"keys\": %zu keys, at most %d", n,
                       AGENT_STATE_MAX_KEYS);
    if (n == 0)
        return 0;
    keys = calloc(n, sizeof(*keys));
    tmp = calloc(n, sizeof(*tmp));
    if (keys == NULL || tmp == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(arr, i, item)
    {
        const char *login = plain_string(json_object_get(item, "login"));
        const char *line = plain_string(json_object_get(item, "key"));
        struct agent_key *k = &keys[st->key_count];
        struct keys_key parsed;
        struct ob_error sub;

        if (!json_is_object(item)) {
            rc = ob_fail(err, OB_EINVAL, "\"keys\" item %zu: not an object", i);
            goto out;
        }
        if (login == NULL || line == NULL) {
            rc = ob_fail(err, OB_EINVAL, "\"keys\" item %zu: \"login\" and \"key\" must be strings",
                         i);
            goto out;
        }
        if (!agent_login_is_valid(login)) {
            rc = ob_fail(err, OB_EINVAL,
                         "\"keys\" item %zu: login is not a Unix login name ([a-z_][a-z0-9_.-]*, "
                         "at most %d)",
                         i, AGENT_LOGIN_MAX);
            goto out;
        }
        ob_error_clear(&sub);
        if (keys_parse_line(line, strlen(line), &parsed, &sub) != 0) {
            if (sub.code == OB_ENOMEM) {
                rc = ob_fail(err, OB_ENOMEM, "out of memory");
                goto out;
            }
            st->keys_dropped++; /* a line the server accepted and we do not: leave it out */
            continue;
        }
        k->line = keys_key_format(&parsed);
        keys_key_release(&parsed);
        if (k->line == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(k->login, sizeof(k->login), "%s", login);
        st->key_count++;
    }
    keys_sort(keys, tmp, st->key_count);
    st->keys = keys;
    keys = NULL;
out:
    if (rc != 0) {
        for (i = 0; i < st->key_count; i++)
            free(keys[i].line);
        st->key_count = 0;
    }
    free(tmp);
    free(keys);
    return rc;
}

static int parse_ca(json_t *v, struct agent_state *st, struct ob_error *err)
{
    const char *line = plain_string(v);
    struct keys_key k;
    struct ob_error sub;

    if (json_is_null(v))
        return 0;
    if (line == NULL)
        return ob_fail(err, OB_EINVAL, "\"ssh_ca\" must be a public key line or null");
    ob_error_clear(&sub);
    if (keys_parse_line(line, strlen(line), &k, &sub) != 0)
        return ob_fail(err, sub.code == OB_ENOMEM ? OB_ENOMEM : OB_EINVAL, "\"ssh_ca\": %s",
                       sub.msg);
    st->ssh_ca = keys_key_format(&k);
    keys_key_release(&k);
    return st->ssh_ca != NULL ? 0 : ob_fail(err, OB_ENOMEM, "out of memory");
}

static int parse_krl(json_t *v, struct agent_state *st, struct ob_error *err)
{
    const char *b64 = plain_string(v);
    size_t len;

    if (json_is_null(v))
        return 0;
    if (b64 == NULL)
        return ob_fail(err, OB_EINVAL, "\"krl\" must be base64 of an OpenSSH KRL or null");
    len = strlen(b64);
    if (len > (AGENT_KRL_MAX / 3 + 1) * 4)
        return ob_fail(err, OB_ETOOLARGE, "\"krl\" is larger than %d bytes", AGENT_KRL_MAX);
    if (len == 0 || sshca_b64_decode(b64, len, &st->krl, &st->krl_len) != 0) {
        st->krl = NULL;
        return ob_fail(err, OB_EINVAL, "\"krl\" is not base64");
    }
    if (st->krl_len < KRL_MAGIC_LEN + 4 || memcmp(st->krl, KRL_MAGIC, KRL_MAGIC_LEN) != 0)
        return ob_fail(err, OB_EINVAL, "\"krl\" is not an OpenSSH KRL (no SSHKRL header)");
    return 0;
}

static int state_from_json(json_t *root, const char *want_host, struct agent_state *st,
                           struct ob_error *err)
{
    json_t *entries = json_object_get(root, "entries"), *keys = json_object_get(root, "keys");
    json_t *poll = json_object_get(root, "poll_seconds");
    const char *host;
    char *text = NULL;
    int rc;

    if (!json_is_object(root))
        return ob_fail(err, OB_EINVAL, "the state is not a JSON object");
    if (json_depth(root, STATE_MAX_DEPTH + 1) > STATE_MAX_DEPTH)
        return ob_fail(err, OB_EINVAL, "the state is nested deeper than %d levels",
                       STATE_MAX_DEPTH);
    host = plain_string(json_object_get(root, "host"));
    if (host == NULL || host[0] == '\0' || strlen(host) > AGENT_HOST_MAX)
        return ob_fail(err, OB_EINVAL, "\"host\" must be a host name");
    if (want_host != NULL && strcmp(host, want_host) != 0)
        return ob_fail(err, OB_EINVAL, "the state is for host \"%.64s\", this agent is \"%s\"",
                       host, want_host);
    snprintf(st->host, sizeof(st->host), "%s", host);
    if (!json_is_array(entries))
        return ob_fail(err, OB_EINVAL, "\"entries\" must be a list");
    if (!json_is_array(keys))
        return ob_fail(err, OB_EINVAL, "\"keys\" must be a list");
    if (json_object_get(root, "ssh_ca") == NULL || json_object_get(root, "krl") == NULL)
        return ob_fail(err, OB_EINVAL, "\"ssh_ca\" and \"krl\" must be present (null for none)");
    if (poll != NULL && !json_is_null(poll)) {
        if (!json_is_integer(poll) || json_integer_value(poll) < 1 ||
            json_integer_value(poll) > 3600)
            return ob_fail(err, OB_EINVAL, "\"poll_seconds\" must be an integer from 1 to 3600");
        st->poll_seconds = (unsigned)json_integer_value(poll);
    }
    /* The one entries parser of opsbell reads the list as the CLI's file. */
    text = json_dumps(entries, JSON_COMPACT);
    if (text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = access_entries_from_json(text, strlen(text), AGENT_STATE_MAX_ENTRIES, &st->entries,
                                  &st->entry_count, err);
    free(text);
    if (rc != 0) {
        char msg[OB_ERROR_MSG_MAX];
        if (err != NULL) {
            snprintf(msg, sizeof(msg), "%s", err->msg);
            ob_fail(err, rc, "\"entries\": %s", msg);
        }
        return rc;
    }
    rc = parse_keys(keys, st, err);
    if (rc == 0)
        rc = parse_ca(json_object_get(root, "ssh_ca"), st, err);
    if (rc == 0)
        rc = parse_krl(json_object_get(root, "krl"), st, err);
    return rc;
}

int agent_state_parse(const char *text, size_t len, const char *want_host, struct agent_state *out,
                      struct ob_error *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > AGENT_STATE_MAX)
        return ob_fail(err, OB_ETOOLARGE, "the state is larger than %d bytes", AGENT_STATE_MAX);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return ob_fail(err, OB_EINVAL, "the state is not JSON: %s (line %d column %d)", jerr.text,
                       jerr.line, jerr.column);
    rc = state_from_json(root, want_host, out, err);
    json_decref(root);
    if (rc != 0)
        agent_state_release(out);
    return rc;
}

int agent_state_check_policy(const struct agent_state *s, unsigned max_v4, unsigned max_v6,
                             struct ob_error *err)
{
    for (size_t i = 0; i < s->entry_count; i++) {
        struct cidr c;

        if (cidr_parse(s->entries[i].cidr, &c, NULL) != 0 || cidr_too_wide(&c, max_v4, max_v6))
            return ob_fail(err, OB_EINVAL, "\"entries\": %s: %s is too wide (at most /%u or /%u)",
                           s->entries[i].id, s->entries[i].cidr, max_v4, max_v6);
    }
    return 0;
}

int agent_etag_parse(const char *value, size_t len, char *out, size_t cap)
{
    size_t start = 0, end = len, body;

    while (start < end && (value[start] == ' ' || value[start] == '\t'))
        start++;
    while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t' ||
                           value[end - 1] == '\r' || value[end - 1] == '\n'))
        end--;
    body = start;
    if (end - start >= 2 && value[start] == 'W' && value[start + 1] == '/')
        body += 2;
    if (end - body < 2 || value[body] != '"' || value[end - 1] != '"')
        return OB_EINVAL;
    if (end - start > AGENT_ETAG_MAX || end - start + 1 > cap)
        return OB_EINVAL;
    /* etagc = %x21 / %x23-7E (RFC 9110; obs-text refused) */
    for (size_t i = body + 1; i < end - 1; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x21 || c == '"' || c > 0x7e)
            return OB_EINVAL;
    }
    memcpy(out, value + start, end - start);
    out[end - start] = '\0';
    return 0;
}

/* ---- files ------------------------------------------------------------------------- */

int agent_write_file(const char *path, const void *data, size_t len, unsigned mode,
                     struct ob_error *err)
{
    return file_write_atomic(path, data, len, mode, err);
}

/* Read at most max bytes of path: 0 with *out (malloc'd, NUL-terminated),
 * OB_ENOTFOUND, OB_ETOOLARGE or OB_EIO. */
static int read_capped(const char *path, size_t max, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    *len = 0;
    if (fp == NULL)
        return errno == ENOENT ? OB_ENOTFOUND : OB_EIO;
    buf = malloc(max + 2);
    if (buf == NULL) {
        fclose(fp);
        return OB_ENOMEM;
    }
    n = fread(buf, 1, max + 1, fp);
    if (ferror(fp)) {
        fclose(fp);
        free(buf);
        return OB_EIO;
    }
    fclose(fp);
    if (n > max) {
        free(buf);
        return OB_ETOOLARGE;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int agent_file_equals(const char *path, const void *data, size_t len)
{
    char *have = NULL;
    size_t n = 0;
    int same;

    if (read_capped(path, len, &have, &n) != 0)
        return 0;
    same = n == len && memcmp(have, data, len) == 0;
    free(have);
    return same;
}

int agent_mkdirs(const char *path, unsigned mode, struct ob_error *err)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return ob_fail(err, OB_EINVAL, "bad directory '%s'", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return ob_fail(err, OB_EIO, "cannot create %s: %s", buf, strerror(errno));
        buf[i] = i == len ? '\0' : '/';
    }
    return 0;
}

/* ---- the cache ------------------------------------------------------------------------ */

int agent_cache_store(const char *state_dir, const char *text, size_t len, const char *etag,
                      int64_t now_ms, struct ob_error *err)
{
    char path[4096];
    json_error_t jerr;
    json_t *state, *wrap;
    char *out;
    int rc;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, AGENT_STATE_FILE) >= sizeof(path))
        return ob_fail(err, OB_EINVAL, "state_dir too long");
    state = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (state == NULL)
        return ob_fail(err, OB_EINVAL, "the state is not JSON: %s", jerr.text);
    wrap = json_pack("{s:s, s:I, s:o}", "etag", etag, "fetched_at", (json_int_t)now_ms, "state",
                     state);
    if (wrap == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    out = json_dumps(wrap, JSON_COMPACT);
    json_decref(wrap);
    if (out == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = agent_mkdirs(state_dir, 0700, err);
    if (rc == 0)
        rc = agent_write_file(path, out, strlen(out), 0600, err);
    free(out);
    return rc;
}

int agent_cache_load(const char *state_dir, const char *want_host, struct agent_state *st,
                     char *etag, size_t etag_cap, int64_t *fetched_at_ms, struct ob_error *err)
{
    char path[4096], *data = NULL, *text = NULL;
    json_error_t jerr;
    json_t *wrap = NULL, *state, *tag, *at;
    struct ob_error sub;
    size_t len = 0;
    int rc;

    memset(st, 0, sizeof(*st));
    if (etag_cap > 0)
        etag[0] = '\0';
    *fetched_at_ms = 0;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, AGENT_STATE_FILE) >= sizeof(path))
        return ob_fail(err, OB_EINVAL, "state_dir too long");
    rc = read_capped(path, (size_t)AGENT_STATE_MAX + 4096, &data, &len);
    if (rc == OB_ENOTFOUND)
        return ob_fail(err, rc, "no cached state in %s", path);
    if (rc != 0)
        return ob_fail(err, rc == OB_ETOOLARGE ? OB_EINVAL : rc, "cannot read %s: %s", path,
                       rc == OB_ETOOLARGE ? "too large" : strerror(errno));
    wrap = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    if (wrap == NULL) {
        rc = ob_fail(err, OB_EINVAL, "%s is not JSON: %s", path, jerr.text);
        goto out;
    }
    state = json_object_get(wrap, "state");
    tag = json_object_get(wrap, "etag");
    at = json_object_get(wrap, "fetched_at");
    if (!json_is_object(state) || !json_is_string(tag) || !json_is_integer(at)) {
        rc = ob_fail(err, OB_EINVAL, "%s is not an agent cache", path);
        goto out;
    }
    if (json_string_length(tag) > 0 &&
        agent_etag_parse(json_string_value(tag), json_string_length(tag), etag, etag_cap) != 0) {
        rc = ob_fail(err, OB_EINVAL, "%s: bad etag", path);
        goto out;
    }
    text = json_dumps(state, JSON_COMPACT);
    if (text == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    ob_error_clear(&sub);
    rc = agent_state_parse(text, strlen(text), want_host, st, &sub);
    if (rc != 0) {
        rc = ob_fail(err, rc == OB_ENOMEM ? rc : OB_EINVAL, "%s: %s", path, sub.msg);
        goto out;
    }
    *fetched_at_ms = json_integer_value(at);
out:
    if (rc != 0 && etag_cap > 0)
        etag[0] = '\0';
    free(text);
    json_decref(wrap);
    return rc;
}
