/*
 * file.h - replacing a file atomically: readers see the old content or the
 * new, never a part, and a crash leaves one of the two.
 *
 * Threads: reentrant.  Errors follow util/error.h.  Needs only libc (the
 * small front binary links it).
 */
#ifndef OPSBELL_UTIL_FILE_H
#define OPSBELL_UTIL_FILE_H

#include <stddef.h>

struct ob_error;

/*
 * Replace path with data[0..len): write "path.tmp.PID" (O_NOFOLLOW) with
 * mode (whatever the umask), fsync it, rename it over path, fsync the
 * directory.  On failure path is untouched and the temporary file removed.
 * Returns 0, OB_EINVAL (path too long) or OB_EIO with the reason in err.
 */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                      struct ob_error *err);

#endif
