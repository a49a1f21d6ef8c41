/*
 * sync.c - fetch the keys repository with libgit2 and rebuild the cache.
 *
 * cache_dir/repo is a bare repository fetched from the configured URL (an
 * anonymous remote: nothing is kept in its config).  A sync fetches only the
 * configured branch into refs/remotes/origin/BRANCH, reads the tree at that commit
 * (never a working tree: nothing in the repository is ever checked out or
 * executed), validates every key file, and replaces the cache file
 * atomically.  Any failure before the rename leaves the old cache in force,
 * so sshd keeps answering from the last good state.
 */
#include "keys/keys.h"

#include "config/config.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYNC_MAX_FILES 100000 /* .pub files read in one sync */

struct sync_ctx {
    const struct config *cfg;
    const volatile int *cancel;
    const char **users; /* the configuration's user names, sorted (bsearch) */
    git_repository *repo;
    struct keys_entries entries;
    struct keys_sync_report *report;
    size_t files;
};

static int report_problem(struct keys_sync_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int report_problem(struct keys_sync_report *r, const char *fmt, ...)
{
    struct keys_problem *p = realloc(r->problems, (r->problem_count + 1) * sizeof(*p));
    char buf[1024];
    va_list ap;

    if (p == NULL)
        return OB_ENOMEM;
    r->problems = p;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ob_utf8_sanitize(buf);
    p[r->problem_count].line = 0;
    p[r->problem_count].message = strdup(buf);
    if (p[r->problem_count].message == NULL)
        return OB_ENOMEM;
    r->problem_count++;
    return 0;
}

void keys_sync_report_release(struct keys_sync_report *r)
{
    if (r == NULL)
        return;
    keys_entries_release(&r->added);
    keys_entries_release(&r->removed);
    for (size_t i = 0; i < r->problem_count; i++)
        free(r->problems[i].message);
    free(r->problems);
    memset(r, 0, sizeof(*r));
}

static int git_fail(struct ob_error *err, int code, const char *what)
{
    const git_error *e = git_error_last();
    char msg[256];

    snprintf(msg, sizeof(msg), "%s", e != NULL && e->message != NULL ? e->message : "unknown");
    msg[strcspn(msg, "\r\n")] = '\0';
    ob_utf8_sanitize(msg);
    return ob_fail(err, code, "%s: %s", what, msg);
}

static int mkdir_p(const char *path, struct ob_error *err)
{
    char buf[4096];

    if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
        return ob_fail(err, OB_EINVAL, "path too long: %s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ob_fail(err, OB_EIO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return ob_fail(err, OB_EIO, "cannot create %s: %s", buf, strerror(errno));
    return 0;
}

/* Open cache_dir/repo, or create it.  The repository has no configured
 * remote: each fetch uses an anonymous one with the configured URL, so a
 * changed URL takes effect at once, and libgit2 1.5's regex-filtered config
 * reads (which leak PCRE2 match data when an entry does not match) are
 * never reached. */
static int sync_open_repo(struct sync_ctx *c, const char *dir, struct ob_error *err)
{
    if (git_repository_open_bare(&c->repo, dir) != 0 && git_repository_init(&c->repo, dir, 1) != 0)
        return git_fail(err, OB_EIO, "cannot create the repository cache");
    return 0;
}

/* libgit2 calls this while objects arrive; non-zero abandons the fetch. */
static int sync_transfer_progress(const git_indexer_progress *stats, void *payload)
{
    const struct sync_ctx *c = payload;

    (void)stats;
    return c->cancel != NULL && *c->cancel ? -1 : 0;
}

static int sync_fetch(struct sync_ctx *c, git_oid *tip, struct ob_error *err)
{
    const struct config_keys *k = &c->cfg->keys;
    git_fetch_options opts;
    git_remote_create_options create;
    git_remote *remote = NULL;
    git_reference *ref = NULL;
    char spec[512], refname[300];
    char *specs[1] = {spec};
    git_strarray refspecs = {specs, 1};
    int rc;

    snprintf(spec, sizeof(spec), "+refs/heads/%s:refs/remotes/origin/%s", k->branch, k->branch);
    snprintf(refname, sizeof(refname), "refs/remotes/origin/%s", k->branch);
    /* The URL as configured: no url.*.insteadOf rewriting (whose lookup is
     * one of those leaking regex reads), no default refspec. */
    git_remote_create_options_init(&create, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    create.repository = c->repo;
    create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, k->repository, &create) != 0)
        return git_fail(err, OB_EINVAL, "cannot use the keys repository URL");
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.callbacks.transfer_progress = sync_transfer_progress;
    opts.callbacks.payload = c;
    opts.update_fetchhead = 0;
    if (git_remote_fetch(remote, &refspecs, &opts, NULL) != 0) {
        rc = git_fail(err, OB_EUNAVAILABLE, "cannot fetch the keys repository");
        git_remote_free(remote);
        return rc;
    }
    git_remote_free(remote);
    if (git_reference_lookup(&ref, c->repo, refname) != 0 ||
        git_reference_name_to_id(tip, c->repo, refname) != 0) {
        git_reference_free(ref);
        return ob_fail(err, OB_ENOTFOUND, "the keys repository has no branch '%s'", k->branch);
    }
    git_reference_free(ref);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One .pub file: user from its name, every key validated. */
static int sync_file(struct sync_ctx *c, const char *user, const char *display,
                     const git_tree_entry *entry)
{
    struct keys_sync_report *r = c->report;
    git_blob *blob = NULL;
    struct keys_file kf;
    int rc = 0;

    if (++c->files > SYNC_MAX_FILES)
        return report_problem(r, "%s: more than %d key files, ignored", display, SYNC_MAX_FILES);
    if (git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB &&
        git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB_EXECUTABLE)
        return report_problem(r, "%s: not a regular file, ignored", display);
    if (bsearch(&user, c->users, c->cfg->user_count, sizeof(*c->users), name_cmp) == NULL)
        return report_problem(r, "%s: '%s' is not an opsbell user, ignored", display, user);
    if (git_blob_lookup(&blob, c->repo, git_tree_entry_id(entry)) != 0)
        return report_problem(r, "%s: cannot read the file, ignored", display);
    if (git_blob_rawsize(blob) > KEYS_FILE_MAX) {
        git_blob_free(blob);
        return report_problem(r, "%s: file larger than %d bytes, ignored", display, KEYS_FILE_MAX);
    }
    rc = keys_parse_file(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), &kf);
    git_blob_free(blob);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < kf.problem_count && rc == 0; i++) {
        if (kf.problems[i].line > 0)
            rc = report_problem(r, "%s:%u: %s", display, kf.problems[i].line,
                                kf.problems[i].message);
        else
            rc = report_problem(r, "%s: %s", display, kf.problems[i].message);
    }
    if (rc == 0 && kf.problem_count > 0 && kf.problems[0].message != NULL &&
        strcmp(kf.problems[0].message, "no key in the file") != 0)
        rc = report_problem(r, "%s: file skipped (no key of it applied)", display);
    for (size_t i = 0; i < kf.count && rc == 0; i++) {
        char *line = keys_key_format(&kf.keys[i]);
        if (line == NULL) {
            rc = OB_ENOMEM;
            break;
        }
        rc = keys_entries_add(&c->entries, user, line);
        free(line);
    }
    keys_file_release(&kf);
    return rc;
}

/* "alice.pub" -> "alice"; 0 when name is not NAME.pub with a valid user name. */
static int pub_user(const char *name, char *user, size_t cap)
{
    size_t n = strlen(name);

    if (n <= 4 || strcmp(name + n - 4, ".pub") != 0 || n - 4 >= cap)
        return 0;
    memcpy(user, name, n - 4);
    user[n - 4] = '\0';
    return 1;
}

static int sync_tree(struct sync_ctx *c, const git_tree *top)
{
    const char *base = c->cfg->keys.path;
    char user[KEYS_USER_MAX + 1], display[1024];
    int rc = 0;

    for (size_t i = 0; i < git_tree_entrycount(top) && rc == 0; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(top, i);
        const char *name = git_tree_entry_name(e);

        if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
            if (!pub_user(name, user, sizeof(user)))
                continue; /* README and friends */
            snprintf(display, sizeof(display), "%s/%s", base, name);
            rc = sync_file(c, user, display, e);
        } else if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            git_tree *sub = NULL;
            if (strlen(name) > KEYS_USER_MAX) {
                snprintf(display, sizeof(display), "%s/%s", base, name);
                rc = report_problem(c->report, "%s: not a user name, ignored", display);
                continue;
            }
            snprintf(user, sizeof(user), "%s", name);
            if (git_tree_lookup(&sub, c->repo, git_tree_entry_id(e)) != 0)
                continue;
            for (size_t j = 0; j < git_tree_entrycount(sub) && rc == 0; j++) {
                const git_tree_entry *f = git_tree_entry_byindex(sub, j);
                const char *fname = git_tree_entry_name(f);
                size_t n = strlen(fname);
                if (n <= 4 || strcmp(fname + n - 4, ".pub") != 0)
                    continue;
                snprintf(display, sizeof(display), "%s/%s/%s", base, name, fname);
                rc = sync_file(c, user, display, f);
            }
            git_tree_free(sub);
        }
    }
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct keys_entry *x = a, *y = b;
    int c = strcmp(x->user, y->user);

    return c != 0 ? c : strcmp(x->key, y->key);
}

/* added = new - old, removed = old - new (both sorted by user, key). */
static int sync_diff(struct keys_entries *old, struct keys_entries *cur, struct keys_sync_report *r)
{
    struct keys_entry *a, *b;
    size_t i = 0, j = 0;
    int rc = 0;

    if (old->count > 0)
        qsort(old->items, old->count, sizeof(*old->items), entry_cmp);
    b = malloc((cur->count + 1) * sizeof(*b));
    if (b == NULL)
        return OB_ENOMEM;
    if (cur->count > 0) {
        memcpy(b, cur->items, cur->count * sizeof(*b));
        qsort(b, cur->count, sizeof(*b), entry_cmp);
    }
    a = old->items;
    while (rc == 0 && (i < old->count || j < cur->count)) {
        int c = i == old->count ? 1 : j == cur->count ? -1 : entry_cmp(&a[i], &b[j]);
        if (c < 0) {
            rc = keys_entries_add(&r->removed, a[i].user, a[i].key);
            i++;
        } else if (c > 0) {
            rc = keys_entries_add(&r->added, b[j].user, b[j].key);
            j++;
        } else {
            i++;
            j++;
        }
    }
    free(b);
    return rc;
}

/* Drop a user's repeated key (the same line in two files): sshd needs it
 * once.  Sorting pointers keeps this O(n log n) for 30,000 keys; the first
 * of equal entries stays, and the order of the rest is kept. */
static int dedup_cmp(const void *a, const void *b, void *base)
{
    const struct keys_entry *items = base;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = entry_cmp(&items[x], &items[y]);

    return c != 0 ? c : (x < y ? -1 : x > y);
}

static int entries_dedup(struct keys_entries *e)
{
    size_t *idx, out = 0;
    unsigned char *drop;

    if (e->count < 2)
        return 0;
    idx = malloc(e->count * sizeof(*idx));
    drop = calloc(e->count, 1);
    if (idx == NULL || drop == NULL) {
        free(idx);
        free(drop);
        return OB_ENOMEM;
    }
    for (size_t i = 0; i < e->count; i++)
        idx[i] = i;
    qsort_r(idx, e->count, sizeof(*idx), dedup_cmp, e->items);
    for (size_t i = 1; i < e->count; i++)
        if (entry_cmp(&e->items[idx[i]], &e->items[idx[i - 1]]) == 0)
            drop[idx[i]] = 1;
    for (size_t i = 0; i < e->count; i++) {
        if (drop[i]) {
            free(e->items[i].user);
            free(e->items[i].key);
        } else {
            e->items[out++] = e->items[i];
        }
    }
    e->count = out;
    free(idx);
    free(drop);
    return 0;
}

static int sync_locked(struct sync_ctx *c, struct ob_error *err)
{
    const struct config_keys *k = &c->cfg->keys;
    struct keys_sync_report *r = c->report;
    struct keys_entries old = {0};
    char repo_dir[4096], cache[4096];
    git_oid tip;
    git_commit *commit = NULL;
    git_tree *root = NULL, *top = NULL;
    git_tree_entry *top_entry = NULL;
    int rc;

    snprintf(repo_dir, sizeof(repo_dir), "%s/repo", k->cache_dir);
    snprintf(cache, sizeof(cache), "%s/%s", k->cache_dir, KEYS_CACHE_NAME);
    rc = sync_open_repo(c, repo_dir, err);
    if (rc != 0)
        return rc;
    rc = sync_fetch(c, &tip, err);
    if (rc != 0)
        return rc;
    git_oid_tostr(r->commit, sizeof(r->commit), &tip);
    if (git_commit_lookup(&commit, c->repo, &tip) != 0 || git_commit_tree(&root, commit) != 0) {
        rc = git_fail(err, OB_EIO, "cannot read the fetched commit");
        goto out;
    }
    /* No directory (git keeps no empty one: the last key was removed) means
     * no keys: failing instead would keep a revoked key valid. */
    if (git_tree_entry_bypath(&top_entry, root, k->path) != 0 ||
        git_tree_entry_type(top_entry) != GIT_OBJECT_TREE ||
        git_tree_lookup(&top, c->repo, git_tree_entry_id(top_entry)) != 0)
        rc = report_problem(r, "%s: no such directory at %.12s: no keys", k->path, r->commit);
    else
        rc = sync_tree(c, top);
    if (rc != 0) {
        ob_fail(err, rc, "%s", ob_strerror(rc));
        goto out;
    }
    rc = entries_dedup(&c->entries);
    if (rc != 0) {
        ob_fail(err, rc, "out of memory");
        goto out;
    }
    rc = keys_cache_read(cache, &old, err);
    if (rc != 0 && rc != OB_ENOTFOUND)
        goto out;
    ob_error_clear(err);
    rc = keys_cache_write(cache, &c->entries, err);
    if (rc != 0)
        goto out;
    r->keys = c->entries.count;
    r->users = 0;
    for (size_t i = 0; i < c->entries.count; i++)
        if (i == 0 || strcmp(c->entries.items[i].user, c->entries.items[i - 1].user) != 0)
            r->users++;
    rc = sync_diff(&old, &c->entries, r);
    if (rc != 0)
        ob_fail(err, rc, "out of memory");
out:
    keys_entries_release(&old);
    git_tree_entry_free(top_entry);
    git_tree_free(top);
    git_tree_free(root);
    git_commit_free(commit);
    return rc;
}

int keys_sync(const struct config *cfg, struct keys_sync_report *r, struct ob_error *err)
{
    return keys_sync_cancelable(cfg, NULL, r, err);
}

int keys_sync_cancelable(const struct config *cfg, const volatile int *cancel,
                         struct keys_sync_report *r, struct ob_error *err)
{
    struct sync_ctx c = {.cfg = cfg, .cancel = cancel, .report = r};
    char lock_path[4096];
    int lock_fd, rc;

    memset(r, 0, sizeof(*r));
    if (!cfg->keys.enabled)
        return ob_fail(err, OB_EINVAL, "the configuration has no keys: section");
    rc = mkdir_p(cfg->keys.cache_dir, err);
    if (rc != 0)
        return rc;
    snprintf(lock_path, sizeof(lock_path), "%s/sync.lock", cfg->keys.cache_dir);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0)
        return ob_fail(err, OB_EIO, "cannot open %s: %s", lock_path, strerror(errno));
    if (flock(lock_fd, LOCK_EX) != 0) {
        close(lock_fd);
        return ob_fail(err, OB_EIO, "cannot lock %s: %s", lock_path, strerror(errno));
    }
    c.users = malloc((cfg->user_count + 1) * sizeof(*c.users));
    if (c.users == NULL) {
        close(lock_fd);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < cfg->user_count; i++)
        c.users[i] = cfg->users[i].name;
    qsort(c.users, cfg->user_count, sizeof(*c.users), name_cmp);
    git_libgit2_init();
    rc = sync_locked(&c, err);
    free(c.users);
    git_repository_free(c.repo);
    git_libgit2_shutdown();
    keys_entries_release(&c.entries);
    close(lock_fd); /* releases the lock */
    if (rc != 0) {
        keys_entries_release(&r->added);
        keys_entries_release(&r->removed);
    }
    return rc;
}
