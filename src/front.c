/*
 * front.c - the `opsbell` binary that users and sshd run: a small front.
 *
 * sshd runs `opsbell keys authorized-keys USER` for every login attempt, so
 * that command must answer in a few milliseconds.  Loading the ~60 shared
 * libraries the whole of opsbell links (libcurl, libpq, GnuTLS, libgit2,
 * libre, flite...) alone costs ~14 ms of CPU before main() runs.  So this
 * binary links only libc and libyaml: it answers `keys authorized-keys`
 * itself (src/keys/authkeys.c) and replaces itself (execv: same pid, same
 * argv, signals and exit status pass through) with opsbell-core, the full
 * program (src/main.c), for every other command.
 *
 * opsbell-core is looked for next to this binary (symlinks resolved), then
 * at OPSBELL_CORE_PATH (set at build time; `make install` puts it there).
 */
#include "keys/keys.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef OPSBELL_CORE_PATH
#define OPSBELL_CORE_PATH "/usr/local/lib/opsbell/opsbell-core"
#endif

static const char *front_core_path(char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        char *slash;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            if ((size_t)snprintf(buf, cap, "%s/opsbell-core", self) < cap && access(buf, X_OK) == 0)
                return buf;
        }
    }
    return OPSBELL_CORE_PATH;
}

int main(int argc, char **argv)
{
    char buf[PATH_MAX + 32];
    const char *core;

    if (argc >= 3 && strcmp(argv[1], "keys") == 0 && strcmp(argv[2], "authorized-keys") == 0)
        return keys_authorized_keys_main(argc - 2, argv + 2);
    core = front_core_path(buf, sizeof(buf));
    execv(core, argv);
    fprintf(stderr, "opsbell: cannot run %s: %s\n", core, strerror(errno));
    return 1;
}
