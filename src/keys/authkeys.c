/*
 * authkeys.c - `opsbell keys authorized-keys USER`, sshd's AuthorizedKeysCommand.
 *
 * sshd runs this for every login attempt, as an unprivileged user, and waits
 * for it with no timeout.  So it reads only the local cache file (never the
 * network, the database or the full configuration), exits 0 with nothing
 * printed for an unknown user or a missing cache, and says why on stderr
 * (sshd logs it).  It uses libc, libyaml and cache.c only: the front binary
 * (src/front.c) runs it without loading opsbell's other libraries, whose
 * loading alone costs ~14 ms of CPU (docs/PERFORMANCE.md).
 */
#include "keys/keys.h"

#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int keys_cache_path_for(const char *config_arg, char *buf, size_t cap, struct ob_error *err)
{
    const char *env = getenv("OPSBELL_CONFIG");
    const char *path = config_arg;

    if (path == NULL && env != NULL && env[0] != '\0')
        path = env;
    if (path == NULL && access("opsbell.yaml", F_OK) == 0)
        path = "opsbell.yaml";
    if (path == NULL) {
        path = "/etc/opsbell/opsbell.yaml";
        if (access(path, F_OK) != 0) {
            if ((size_t)snprintf(buf, cap, "%s/%s", KEYS_DEFAULT_CACHE_DIR, KEYS_CACHE_NAME) >= cap)
                return ob_fail(err, OB_EINVAL, "cache path too long");
            return 0;
        }
    }
    return keys_cache_path_from_config(path, buf, cap, err);
}

/* [a-z0-9][a-z0-9._-]{0,62}: what the configuration accepts as a user name. */
static int authkeys_user_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > KEYS_USER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (i > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return 0;
    }
    return 1;
}

int keys_authorized_keys_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"cache", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *cache = NULL, *user;
    struct ob_error err = {0};
    char path[4096];
    int c, n;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(KEYS_AUTHORIZED_KEYS_USAGE, stdout);
        return 0;
    }
    if (argc == 2 && argv[1][0] == '-') {
        /* An option alone: no user at all (and no opsbell user starts with '-'). */
        fprintf(stderr,
                "opsbell: unknown or incomplete option '%s' (see 'opsbell keys "
                "authorized-keys --help')\n",
                argv[1]);
        return 2;
    }
    if (argc < 2) {
        fputs("opsbell: expected one USER (see 'opsbell keys authorized-keys --help')\n", stderr);
        return 2;
    }
    /* USER is always the last argument, whatever it looks like: sshd's %u
     * ("-c", "--cache=/x") must never be taken for an option. */
    user = argv[argc - 1];
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv, "+c:C:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'C':
            cache = optarg;
            break;
        case 'h':
            fputs(KEYS_AUTHORIZED_KEYS_USAGE, stdout);
            return 0;
        default:
            fprintf(stderr,
                    "opsbell: unknown or incomplete option '%s' (see 'opsbell keys "
                    "authorized-keys --help')\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs("opsbell: expected one USER, last (see 'opsbell keys authorized-keys --help')\n",
              stderr);
        return 2;
    }
    if (!authkeys_user_ok(user))
        return 0; /* no opsbell user has that name: no keys */
    if (cache != NULL) {
        if ((size_t)snprintf(path, sizeof(path), "%s", cache) >= sizeof(path)) {
            fputs("opsbell: keys authorized-keys: cache path too long\n", stderr);
            return 0;
        }
    } else if (keys_cache_path_for(config, path, sizeof(path), &err) != 0) {
        fprintf(stderr, "opsbell: keys authorized-keys: %s; no keys for %s\n", err.msg, user);
        return 0;
    }
    n = keys_cache_lookup(path, user, STDOUT_FILENO, &err);
    if (n == OB_ENOTFOUND) {
        fprintf(stderr,
                "opsbell: keys authorized-keys: %s (run `opsbell keys sync`); no keys for %s\n",
                err.msg, user);
        return 0;
    }
    if (n < 0) {
        fprintf(stderr, "opsbell: keys authorized-keys: %s\n", err.msg);
        return 1;
    }
    return 0;
}
