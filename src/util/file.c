/*
 * file.c - replacing a file atomically (file.h).
 */
#include "util/file.h"

#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = -1;

    if (copy == NULL)
        return -1;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    free(copy);
    return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                      struct ob_error *err)
{
    char tmp[4096];
    const char *p = data;
    int fd, rc;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
        return ob_fail(err, OB_EINVAL, "path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ob_fail(err, OB_EIO, "cannot create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, (mode_t)mode) != 0) {
        rc = ob_fail(err, OB_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
        goto fail;
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = ob_fail(err, OB_EIO, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = ob_fail(err, OB_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ob_fail(err, OB_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = ob_fail(err, OB_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    if (fsync_dir_of(path) != 0)
        return ob_fail(err, OB_EIO, "cannot fsync the directory of %s: %s", path, strerror(errno));
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}
