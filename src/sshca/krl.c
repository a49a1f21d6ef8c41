/*
 * krl.c - OpenSSH key revocation lists (PROTOCOL.krl) for certificates of
 * the opsbell CA, by serial and by key id.
 */
#include "sshca/sshca.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define KRL_MAGIC                0x5353484b524c0a00ULL /* "SSHKRL\n\0" */
#define KRL_FORMAT_VERSION       1
#define KRL_SECTION_CERTIFICATES 1
#define KRL_CERT_SERIAL_LIST     0x20
#define KRL_CERT_KEY_ID          0x23

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void put_byte(struct sshca_buf *b, unsigned char c)
{
    sshca_buf_bytes(b, &c, 1);
}

int sshca_krl_build(const struct sshca_ca *ca, const uint64_t *serials, size_t serial_count,
                    const char *const *key_ids, size_t key_id_count, uint64_t krl_version,
                    uint64_t generated_at, const char *comment, unsigned char **out,
                    size_t *out_len, struct ob_error *err)
{
    struct sshca_buf krl = {0}, section = {0}, sub = {0};
    unsigned char cakey[SSHCA_CA_BLOB_LEN];
    uint64_t *sorted = NULL;
    int rc = 0;

    *out = NULL;
    *out_len = 0;
    if (serial_count > SSHCA_KRL_MAX_ENTRIES || key_id_count > SSHCA_KRL_MAX_ENTRIES)
        return ob_fail(err, OB_EINVAL, "more than %d serials or key ids", SSHCA_KRL_MAX_ENTRIES);
    for (size_t i = 0; i < serial_count; i++)
        if (serials[i] == 0)
            return ob_fail(err, OB_EINVAL,
                           "serial 0 cannot be revoked by serial (revoke its key id instead)");
    for (size_t i = 0; i < key_id_count; i++)
        if (key_ids[i] == NULL || key_ids[i][0] == '\0')
            return ob_fail(err, OB_EINVAL, "an empty key id cannot be revoked");

    sshca_buf_u64(&krl, KRL_MAGIC);
    sshca_buf_u32(&krl, KRL_FORMAT_VERSION);
    sshca_buf_u64(&krl, krl_version);
    sshca_buf_u64(&krl, generated_at);
    sshca_buf_u64(&krl, 0);        /* flags */
    sshca_buf_string(&krl, "", 0); /* reserved */
    sshca_buf_cstring(&krl, comment != NULL ? comment : "");
    if (serial_count == 0 && key_id_count == 0)
        goto done;

    sshca_ca_pubkey_blob(ca, cakey);
    sshca_buf_string(&section, cakey, sizeof(cakey));
    sshca_buf_string(&section, "", 0); /* reserved */
    if (serial_count > 0) {
        sorted = malloc(serial_count * sizeof(*sorted));
        if (sorted == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(sorted, serials, serial_count * sizeof(*sorted));
        qsort(sorted, serial_count, sizeof(*sorted), cmp_u64);
        for (size_t i = 0; i < serial_count; i++)
            if (i == 0 || sorted[i] != sorted[i - 1])
                sshca_buf_u64(&sub, sorted[i]);
        put_byte(&section, KRL_CERT_SERIAL_LIST);
        sshca_buf_string(&section, sub.data, sub.len);
        sshca_buf_release(&sub);
    }
    if (key_id_count > 0) {
        for (size_t i = 0; i < key_id_count; i++)
            sshca_buf_cstring(&sub, key_ids[i]);
        put_byte(&section, KRL_CERT_KEY_ID);
        sshca_buf_string(&section, sub.data, sub.len);
        sshca_buf_release(&sub);
    }
    put_byte(&krl, KRL_SECTION_CERTIFICATES);
    sshca_buf_string(&krl, section.data, section.len);
done:
    if (krl.failed || section.failed || sub.failed) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    *out = krl.data;
    *out_len = krl.len;
    krl.data = NULL;
out:
    free(sorted);
    sshca_buf_release(&krl);
    sshca_buf_release(&section);
    sshca_buf_release(&sub);
    return rc;
}
