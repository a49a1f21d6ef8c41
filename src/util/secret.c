#include "util/secret.h"

#include "util/error.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int secret_ref_is_valid(const char *ref)
{
    if (ref == NULL)
        return 0;
    if (strncmp(ref, "env:", 4) == 0)
        return ref[4] != '\0';
    if (strncmp(ref, "file:", 5) == 0)
        return ref[5] != '\0';
    return 0;
}

static int read_secret_file(const char *path, struct secret *out, struct ob_error *err)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;

    if (fp == NULL)
        return ob_fail(err, OB_EIO, "cannot read secret file %s: %s", path, strerror(errno));
    buf = malloc(SECRET_FILE_MAX + 1);
    if (buf == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    len = fread(buf, 1, SECRET_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        rc = ob_fail(err, OB_EIO, "cannot read secret file %s", path);
        goto out;
    }
    if (len > SECRET_FILE_MAX) {
        rc = ob_fail(err, OB_ETOOLARGE, "secret file %s is larger than %d bytes", path,
                     SECRET_FILE_MAX);
        goto out;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    out->value = buf;
    out->len = len;
    buf = NULL;
out:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, SECRET_FILE_MAX + 1);
        free(buf);
    }
    fclose(fp);
    return rc;
}

int secret_resolve(const char *ref, const char *base_dir, struct secret *out, struct ob_error *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!secret_ref_is_valid(ref))
        return ob_fail(err, OB_EINVAL,
                       "a secret must be given as env:NAME or file:PATH, not inline");
    if (strncmp(ref, "env:", 4) == 0) {
        const char *value = getenv(ref + 4);
        if (value == NULL)
            return ob_fail(err, OB_EINVAL, "environment variable %s (from %s) is not set", ref + 4,
                           ref);
        out->value = strdup(value);
        if (out->value == NULL)
            return ob_fail(err, OB_ENOMEM, "out of memory");
        out->len = strlen(value);
    } else {
        const char *path = ref + 5;
        char full[PATH_MAX];
        if (path[0] != '/' && base_dir != NULL) {
            if ((size_t)snprintf(full, sizeof(full), "%s/%s", base_dir, path) >= sizeof(full))
                return ob_fail(err, OB_EINVAL, "secret path too long in %s", ref);
            path = full;
        }
        rc = read_secret_file(path, out, err);
        if (rc != 0)
            return rc;
    }
    out->ref = strdup(ref);
    if (out->ref == NULL) {
        secret_release(out);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

void secret_release(struct secret *s)
{
    if (s == NULL)
        return;
    if (s->value != NULL) {
        OPENSSL_cleanse(s->value, s->len);
        free(s->value);
    }
    free(s->ref);
    s->ref = NULL;
    s->value = NULL;
    s->len = 0;
}
