/*
 * fuzz_ssh_cert_input.c - libFuzzer target for what the SSH CA reads
 * (src/sshca): public key lines, CA private keys, source-address lists.
 *
 * The whole input is given to each parser:
 *   - sshca_pubkey_parse: on success the key is certified by a fixed CA
 *     and the certificate line formed; the certificate's type must be the
 *     key's type with -cert-v01@openssh.com; on failure the output is zeroed;
 *   - sshca_ca_load: on success the CA's public key line must parse back
 *     as an ssh-ed25519 public key whose blob is the CA's;
 *   - sshca_source_normalize (as a string): on success normalising the
 *     result again gives the same text.
 * Every failure must set err to the returned code with a one-line message.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_ssh_cert_input fuzz/corpus/fuzz_ssh_cert_input
 */
#include "sshca/sshca.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* A CA made from a fixed seed, in the OpenSSH format the parser reads. */
static const char fixed_ca[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACAmdmAP9ddZ8Z3n0WNJXNI1D9Is3hNNd/zDSNBw/4mebAAAAJCmtlf6prZX\n"
    "+gAAAAtzc2gtZWQyNTUxOQAAACAmdmAP9ddZ8Z3n0WNJXNI1D9Is3hNNd/zDSNBw/4mebA\n"
    "AAAECfaZGlRwsoX1UNFl4QJxhes7icG5W24+DxdIfhkKWI4SZ2YA/111nxnefRY0lc0jUP\n"
    "0izeE013/MNI0HD/iZ5sAAAAB3VuaXQtY2EBAgMEBQY=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

static void check_err(int rc, const struct ob_error *err)
{
    CHECK(rc < 0);
    CHECK(err->code == rc);
    CHECK(err->msg[0] != '\0' && strchr(err->msg, '\n') == NULL);
}

static void fuzz_pubkey(const struct sshca_ca *ca, const uint8_t *data, size_t size)
{
    static const char *const principals[] = {"alice"};
    struct sshca_pubkey key;
    struct sshca_cert_request req = {0};
    struct ob_error err;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    char *line = NULL, want[80];
    int rc;

    ob_error_clear(&err);
    rc = sshca_pubkey_parse((const char *)data, size, &key, &err);
    if (rc != 0) {
        check_err(rc, &err);
        CHECK(key.blob == NULL && key.comment == NULL && key.type[0] == '\0');
        return;
    }
    CHECK(key.blob != NULL && key.blob_len > 4);
    req.key = &key;
    req.key_id = "fuzz";
    req.principals = principals;
    req.principal_count = 1;
    req.valid_after = 1;
    req.valid_before = 2;
    req.source_address = "127.0.0.1/32";
    CHECK(sshca_cert_sign(ca, &req, &blob, &blob_len, &err) == 0);
    CHECK(sshca_cert_line(blob, blob_len, key.comment, &line, &err) == 0);
    snprintf(want, sizeof(want), "%s-cert-v01@openssh.com ", key.type);
    CHECK(strncmp(line, want, strlen(want)) == 0);
    free(line);
    free(blob);
    sshca_pubkey_release(&key);
}

static void fuzz_ca(const uint8_t *data, size_t size)
{
    struct sshca_ca *ca = NULL;
    struct sshca_pubkey pub;
    struct ob_error err;
    unsigned char blob[SSHCA_CA_BLOB_LEN];
    char *line = NULL;
    int rc;

    ob_error_clear(&err);
    rc = sshca_ca_load((const char *)data, size, &ca, &err);
    if (rc != 0) {
        check_err(rc, &err);
        CHECK(ca == NULL);
        return;
    }
    CHECK(sshca_ca_pubkey_line(ca, "c", &line, &err) == 0);
    CHECK(sshca_pubkey_parse(line, strlen(line), &pub, &err) == 0);
    CHECK(strcmp(pub.type, "ssh-ed25519") == 0);
    CHECK(sshca_ca_pubkey_blob(ca, blob) == SSHCA_CA_BLOB_LEN);
    CHECK(pub.blob_len == SSHCA_CA_BLOB_LEN && memcmp(pub.blob, blob, sizeof(blob)) == 0);
    sshca_pubkey_release(&pub);
    free(line);
    sshca_ca_free(ca);
}

static void fuzz_source(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char out[SSHCA_SOURCE_MAX], again[SSHCA_SOURCE_MAX];
    struct ob_error err;
    int rc;

    if (text == NULL)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    ob_error_clear(&err);
    rc = sshca_source_normalize(text, out, sizeof(out), &err);
    if (rc != 0) {
        check_err(rc, &err);
    } else {
        CHECK(sshca_source_normalize(out, again, sizeof(again), &err) == 0);
        CHECK(strcmp(out, again) == 0);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sshca_ca *ca;
    struct ob_error err;

    if (ca == NULL)
        CHECK(sshca_ca_load(fixed_ca, strlen(fixed_ca), &ca, &err) == 0);
    fuzz_pubkey(ca, data, size);
    fuzz_ca(data, size);
    fuzz_source(data, size);
    return 0;
}
