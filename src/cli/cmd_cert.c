/*
 * cmd_cert.c - `opsbell cert ca-pubkey`, `opsbell cert sign` and `opsbell
 * cert krl`: the SSH certificate authority (src/sshca) on this machine's
 * configuration, no server involved; except `cert sign --grant ID`, which
 * asks the server to sign for a break-glass grant.
 */
#include "cli/cli.h"

#include "config/config.h"
#include "sshca/sshca.h"
#include "util/error.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cmd_cert_ca_pubkey(int argc, char **argv);
int cmd_cert_sign(int argc, char **argv);
int cmd_cert_krl(int argc, char **argv);

#define CA_COMMENT "opsbell-ca"

/* Load the configuration and its CA. Returns EXIT_OK or EXIT_FAIL (reported). */
static int load_ca(const char *config, struct config **cfg, struct sshca_ca **ca)
{
    struct config_diags diags = {0};
    struct ob_error err;

    *cfg = NULL;
    *ca = NULL;
    config = cli_config_path(config);
    if (config_load(config, cfg, &diags) != 0) {
        config_diags_print(&diags, stderr);
        config_diags_release(&diags);
        return cli_fail("invalid configuration %s", config);
    }
    config_diags_release(&diags);
    if (!(*cfg)->ssh_ca.enabled) {
        config_unref(*cfg);
        *cfg = NULL;
        return cli_fail("%s has no ssh_ca section (ssh_ca: {key: file:PATH})", config);
    }
    ob_error_clear(&err);
    if (sshca_ca_load((*cfg)->ssh_ca.key.value, (*cfg)->ssh_ca.key.len, ca, &err) != 0) {
        config_unref(*cfg);
        *cfg = NULL;
        return cli_fail("ssh_ca key: %s", err.msg);
    }
    return EXIT_OK;
}

int cmd_cert_ca_pubkey(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    struct config *cfg = NULL;
    struct sshca_ca *ca = NULL;
    struct ob_error err;
    char *line = NULL;
    int c, rc;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find("cert", "ca-pubkey"), stdout);
            return EXIT_OK;
        default:
            return cli_unknown_option("cert ca-pubkey", argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("cert ca-pubkey", "unexpected argument '%s'", argv[optind]);
    rc = load_ca(config, &cfg, &ca);
    if (rc != EXIT_OK)
        return rc;
    ob_error_clear(&err);
    if (sshca_ca_pubkey_line(ca, CA_COMMENT, &line, &err) != 0)
        rc = cli_fail("%s", err.msg);
    else
        printf("%s\n", line);
    free(line);
    sshca_ca_free(ca);
    config_unref(cfg);
    return rc;
}

/* Read a small file whole (up to cap bytes). */
static int read_small_file(const char *path, size_t cap, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    *len = 0;
    if (fp == NULL)
        return cli_fail("cannot read %s: %s", path, strerror(errno));
    buf = malloc(cap + 2);
    if (buf == NULL) {
        fclose(fp);
        return cli_fail("out of memory");
    }
    n = fread(buf, 1, cap + 1, fp);
    if (ferror(fp)) {
        fclose(fp);
        free(buf);
        return cli_fail("cannot read %s", path);
    }
    fclose(fp);
    if (n > cap) {
        free(buf);
        return cli_fail("%s is larger than %zu bytes", path, cap);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return EXIT_OK;
}

/* "dir/id_ed25519.pub" -> "dir/id_ed25519-cert.pub", as ssh-keygen names it. */
static char *cert_path_for(const char *pubkey)
{
    size_t n = strlen(pubkey);
    char *out = malloc(n + 16);

    if (out == NULL)
        return NULL;
    if (n > 4 && strcmp(pubkey + n - 4, ".pub") == 0)
        n -= 4;
    snprintf(out, n + 16, "%.*s-cert.pub", (int)n, pubkey);
    return out;
}

/* Write len bytes to path atomically (0644 less the umask, as ssh-keygen
 * writes certificates), so that sshd never reads half a file. */
static int write_file(const char *path, const void *data, size_t len)
{
    struct ob_error err = {0};
    mode_t mask = umask(0);

    umask(mask);
    if (file_write_atomic(path, data, len, 0644 & ~mask, &err) != 0)
        return cli_fail("cannot write %s: %s", path, err.msg);
    return EXIT_OK;
}

static void format_utc(uint64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct sign_opts {
    const char *config;
    const char *pubkey;
    const char *grant;  /* --grant ID: the server signs for a break-glass grant */
    const char *output; /* -o FILE: instead of FILE-cert.pub beside the key */
    int json;
    const char *valid_for;
    const char *source;
    const char *key_id;
    const char *serial;
    const char *principals[SSHCA_MAX_PRINCIPALS];
    size_t principal_count;
};

static int sign_parse(int argc, char **argv, struct sign_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"pubkey", required_argument, NULL, 'k'},
                                         {"principal", required_argument, NULL, 'p'},
                                         {"valid-for", required_argument, NULL, 'V'},
                                         {"source-address", required_argument, NULL, 's'},
                                         {"key-id", required_argument, NULL, 'I'},
                                         {"serial", required_argument, NULL, 'n'},
                                         {"grant", required_argument, NULL, 'g'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;

    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:k:p:V:s:I:n:g:o:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            o->grant = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'k':
            o->pubkey = optarg;
            break;
        case 'p':
            if (o->principal_count == SSHCA_MAX_PRINCIPALS)
                return cli_fail("more than %d principals", SSHCA_MAX_PRINCIPALS);
            o->principals[o->principal_count++] = optarg;
            break;
        case 'V':
            o->valid_for = optarg;
            break;
        case 's':
            o->source = optarg;
            break;
        case 'I':
            o->key_id = optarg;
            break;
        case 'n':
            o->serial = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find("cert", "sign"), stdout);
            return -1;
        default:
            return cli_unknown_option("cert sign", argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("cert sign", "unexpected argument '%s'", argv[optind]);
    if (o->pubkey == NULL)
        return cli_usage_error("cert sign", "--pubkey FILE is required");
    if (o->grant != NULL) {
        /* The server decides principals, validity and source for a grant. */
        if (o->principal_count > 0 || o->valid_for != NULL || o->source != NULL ||
            o->key_id != NULL || o->serial != NULL || o->config != NULL)
            return cli_usage_error("cert sign",
                                   "--grant takes only --pubkey, --output and --json (the "
                                   "server decides the rest)");
        return EXIT_OK;
    }
    if (o->valid_for == NULL)
        return cli_usage_error("cert sign", "--valid-for DURATION is required");
    if (o->source == NULL)
        return cli_usage_error("cert sign", "--source-address CIDR[,CIDR] is required");
    /* Not a usage slip but a refusal: a certificate without principals
     * would be valid for every account on the host. */
    if (o->principal_count == 0)
        return cli_fail("refusing a certificate without a principal (give --principal LOGIN)");
    return EXIT_OK;
}

static int parse_serial(const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (text == NULL) {
        *out = 0;
        return 0;
    }
    if (text[0] < '0' || text[0] > '9')
        return OB_EINVAL;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return OB_EINVAL;
    *out = v;
    return 0;
}

/*
 * `cert sign --grant ID --pubkey FILE`: the server signs (POST
 * /api/v1/breakglass/{id}/certificate) with the grant's logins, address and
 * expiry; the certificate is written like a local one.
 */
static int cert_sign_grant(const struct sign_opts *o)
{
    struct ob_error err = {0};
    json_t *body = NULL, *reply = NULL;
    const char *cert;
    char *text = NULL, *path = NULL, *end = NULL, url[96];
    size_t text_len = 0, n;
    long long id;
    int rc;

    errno = 0;
    id = strtoll(o->grant, &end, 10);
    if (errno != 0 || end == o->grant || *end != '\0' || id <= 0)
        return cli_usage_error("cert sign",
                               "--grant takes a grant ID (a positive integer), not "
                               "'%s'",
                               o->grant);
    rc = read_small_file(o->pubkey, SSHCA_LINE_MAX, &text, &text_len);
    if (rc != EXIT_OK)
        return rc;
    while (text_len > 0 && (text[text_len - 1] == '\n' || text[text_len - 1] == '\r'))
        text[--text_len] = '\0';
    if (text_len == 0 || memchr(text, '\n', text_len) != NULL) {
        rc = cli_fail("%s: expected one public key line", o->pubkey);
        goto out;
    }
    body = json_pack("{s:s}", "public_key", text);
    if (body == NULL) {
        rc = cli_fail("%s: the key is not UTF-8 text", o->pubkey);
        goto out;
    }
    snprintf(url, sizeof(url), "/api/v1/breakglass/%lld/certificate", id);
    if (client_call("POST", url, body, &reply, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    cert = json_string_value(json_object_get(reply, "certificate"));
    if (cert == NULL || strchr(cert, '\n') != NULL) {
        rc = cli_fail("the server's answer has no certificate");
        goto out;
    }
    path = o->output != NULL ? strdup(o->output) : cert_path_for(o->pubkey);
    if (path == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    n = strlen(cert);
    {
        char *line = malloc(n + 1);
        if (line == NULL) {
            rc = cli_fail("out of memory");
            goto out;
        }
        memcpy(line, cert, n);
        line[n] = '\n';
        rc = write_file(path, line, n + 1);
        free(line);
    }
    if (rc != EXIT_OK)
        goto out;
    if (o->json) {
        json_object_set_new(reply, "path", json_string(path));
        cli_print_json(reply);
    } else {
        printf("%s: certificate for grant #%lld\n", path, id);
    }
out:
    free(path);
    free(text);
    json_decref(reply);
    json_decref(body);
    return rc;
}

int cmd_cert_sign(int argc, char **argv)
{
    struct sign_opts o = {0};
    struct config *cfg = NULL;
    struct sshca_ca *ca = NULL;
    struct sshca_pubkey key = {0};
    struct sshca_cert_request req = {0};
    struct ob_error err;
    char source[SSHCA_SOURCE_MAX], key_id[SSHCA_KEY_ID_MAX + 1];
    char *text = NULL, *line = NULL, *path = NULL;
    unsigned char *blob = NULL;
    size_t text_len = 0, blob_len = 0;
    uint32_t valid_for = 0;
    uint64_t serial = 0, now = (uint64_t)time(NULL);
    char from[32], to[32], serial_text[24];
    int rc;

    rc = sign_parse(argc, argv, &o);
    if (rc < 0)
        return EXIT_OK; /* --help */
    if (rc != EXIT_OK)
        return rc;
    if (o.grant != NULL)
        return cert_sign_grant(&o);
    ob_error_clear(&err);
    if (config_parse_duration(o.valid_for, &valid_for) != 0 || valid_for == 0)
        return cli_fail("--valid-for '%s' is not a duration such as 30m or 2h", o.valid_for);
    if (parse_serial(o.serial, &serial) != 0)
        return cli_fail("--serial '%s' is not a number from 0 to 2^64-1", o.serial);
    if (sshca_source_normalize(o.source, source, sizeof(source), &err) != 0)
        return cli_fail("%s", err.msg);
    rc = read_small_file(o.pubkey, SSHCA_LINE_MAX, &text, &text_len);
    if (rc != EXIT_OK)
        return rc;
    if (sshca_pubkey_parse(text, text_len, &key, &err) != 0) {
        rc = cli_fail("%s: %s", o.pubkey, err.msg);
        goto out;
    }
    rc = load_ca(o.config, &cfg, &ca);
    if (rc != EXIT_OK)
        goto out;
    if (valid_for > cfg->ssh_ca.max_validity_seconds) {
        rc = cli_fail("--valid-for %s is longer than ssh_ca max_validity (%" PRIu32 "s)",
                      o.valid_for, cfg->ssh_ca.max_validity_seconds);
        goto out;
    }
    if (o.key_id == NULL)
        snprintf(key_id, sizeof(key_id), "opsbell %s", o.principals[0]);
    else
        snprintf(key_id, sizeof(key_id), "%s", o.key_id);
    req.key = &key;
    req.serial = serial;
    req.key_id = key_id;
    req.principals = o.principals;
    req.principal_count = o.principal_count;
    req.valid_after = now - SSHCA_BACKDATE_S;
    req.valid_before = now + valid_for;
    req.source_address = source;
    if (sshca_cert_sign(ca, &req, &blob, &blob_len, &err) != 0 ||
        sshca_cert_line(blob, blob_len, key.comment, &line, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    path = o.output != NULL ? strdup(o.output) : cert_path_for(o.pubkey);
    if (path == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    {
        size_t n = strlen(line);
        line[n] = '\n'; /* the NUL's place: written as one line, not as a C string */
        rc = write_file(path, line, n + 1);
        line[n] = '\0';
    }
    if (rc != EXIT_OK)
        goto out;
    format_utc(req.valid_after, from, sizeof(from));
    format_utc(req.valid_before, to, sizeof(to));
    snprintf(serial_text, sizeof(serial_text), "%" PRIu64, serial);
    if (o.json) {
        json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "path", path, "key_id", key_id,
                                "serial", serial_text, "valid_after", from, "valid_before", to,
                                "source_address", source);
        cli_print_json(obj);
        json_decref(obj);
    } else {
        printf("%s: key id \"%s\", serial %" PRIu64 ", valid %s to %s, from %s\n", path, key_id,
               serial, from, to, source);
    }
out:
    free(path);
    free(line);
    free(blob);
    free(text);
    sshca_pubkey_release(&key);
    sshca_ca_free(ca);
    config_unref(cfg);
    return rc;
}

int cmd_cert_krl(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"serial", required_argument, NULL, 'n'},
                                         {"key-id", required_argument, NULL, 'I'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"krl-version", required_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *output = NULL, *version_text = NULL;
    uint64_t *serials = NULL, version = 0;
    const char **key_ids = NULL;
    size_t serial_count = 0, key_id_count = 0;
    struct config *cfg = NULL;
    struct sshca_ca *ca = NULL;
    struct ob_error err;
    unsigned char *krl = NULL;
    size_t krl_len = 0;
    time_t now = time(NULL);
    int c, rc = EXIT_OK;

    serials = calloc((size_t)argc + 1, sizeof(*serials));
    key_ids = calloc((size_t)argc + 1, sizeof(*key_ids));
    if (serials == NULL || key_ids == NULL) {
        rc = cli_fail("out of memory");
        goto out;
    }
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:n:I:o:v:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'n':
            if (parse_serial(optarg, &serials[serial_count]) != 0) {
                rc = cli_fail("--serial '%s' is not a number from 1 to 2^64-1", optarg);
                goto out;
            }
            serial_count++;
            break;
        case 'I':
            key_ids[key_id_count++] = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'v':
            version_text = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find("cert", "krl"), stdout);
            goto out;
        default:
            rc = cli_unknown_option("cert krl", argv);
            goto out;
        }
    }
    if (optind < argc) {
        rc = cli_usage_error("cert krl", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (output == NULL) {
        rc = cli_usage_error("cert krl", "--output FILE is required");
        goto out;
    }
    if (version_text != NULL && parse_serial(version_text, &version) != 0) {
        rc = cli_fail("--krl-version '%s' is not a number", version_text);
        goto out;
    }
    if (version_text == NULL)
        version = (uint64_t)now; /* increases with every list generated later */
    rc = load_ca(config, &cfg, &ca);
    if (rc != EXIT_OK)
        goto out;
    ob_error_clear(&err);
    if (sshca_krl_build(ca, serials, serial_count, key_ids, key_id_count, version, (uint64_t)now,
                        "opsbell", &krl, &krl_len, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    rc = write_file(output, krl, krl_len);
    if (rc == EXIT_OK)
        printf("%s: %zu serial(s), %zu key id(s) revoked, version %" PRIu64 "\n", output,
               serial_count, key_id_count, version);
out:
    free(krl);
    free(serials);
    free(key_ids);
    sshca_ca_free(ca);
    config_unref(cfg);
    return rc;
}
