/*
 * fuzz_ssh_key.c - libFuzzer target for SSH public keys (src/keys/parse.c).
 *
 * The input is
 *   - parsed as one line: on success the key must format back to a line
 *     that parses to the same type, size, blob, comment and fingerprint,
 *     the fingerprint must look like "SHA256:" + 43 base64 characters, and
 *     the line must hold no tab or newline (the cache's separators); on
 *     failure err must carry the code and a one-line, valid UTF-8 message;
 *   - parsed as a whole key file: either keys and no problems, or problems
 *     and no keys (never half a file), each key as above.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_ssh_key fuzz/corpus/fuzz_ssh_key
 */
#include "keys/keys.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_message(const struct ob_error *err, int rc)
{
    char copy[OB_ERROR_MSG_MAX];

    CHECK(err->code == rc);
    CHECK(err->msg[0] != '\0');
    CHECK(strchr(err->msg, '\n') == NULL);
    memcpy(copy, err->msg, sizeof(copy));
    ob_utf8_sanitize(copy);
    CHECK(strcmp(copy, err->msg) == 0);
}

static void check_key(const struct keys_key *k)
{
    struct keys_key again;
    char *line = keys_key_format(k);

    CHECK(line != NULL);
    CHECK(strpbrk(line, "\t\n\r") == NULL);
    CHECK(strncmp(k->fingerprint, "SHA256:", 7) == 0 && strlen(k->fingerprint) == 7 + 43);
    CHECK(keys_parse_line(line, strlen(line), &again, NULL) == 0);
    CHECK(strcmp(again.type, k->type) == 0);
    CHECK(again.bits == k->bits);
    CHECK(strcmp(again.blob_b64, k->blob_b64) == 0);
    CHECK(strcmp(again.comment, k->comment) == 0);
    CHECK(strcmp(again.fingerprint, k->fingerprint) == 0);
    keys_key_release(&again);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ob_error err = {0};
    struct keys_key k;
    struct keys_file f;
    int rc;

    rc = keys_parse_line((const char *)data, size, &k, &err);
    if (rc == 0) {
        check_key(&k);
        keys_key_release(&k);
    } else {
        check_message(&err, rc);
        CHECK(k.blob_b64 == NULL && k.comment == NULL);
    }
    CHECK(keys_parse_file((const char *)data, size, &f) == 0);
    CHECK(f.count == 0 || f.problem_count == 0);
    CHECK(f.count > 0 || f.problem_count > 0);
    for (size_t i = 0; i < f.count; i++)
        check_key(&f.keys[i]);
    for (size_t i = 0; i < f.problem_count; i++)
        CHECK(f.problems[i].message != NULL && strchr(f.problems[i].message, '\n') == NULL);
    keys_file_release(&f);
    return 0;
}
