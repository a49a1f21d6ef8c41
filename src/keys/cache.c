/*
 * cache.c - the local authorized-keys cache: one line per key,
 * "USER<TAB>TYPE BLOB [COMMENT]\n", sorted by user (a user's keys in the
 * order of the repository), preceded by one "# opsbell ..." header line
 * ('#' sorts before every user name).
 *
 * sshd runs `opsbell keys authorized-keys USER` for every login attempt, so
 * the look-up maps the file and binary-searches it: a few system calls and
 * O(log n) comparisons, whatever the number of users.
 */
#include "keys/keys.h"

#include "util/error.h"
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define CACHE_HEADER "# opsbell authorized keys cache v1\n"

int keys_entries_add(struct keys_entries *e, const char *user, const char *key)
{
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        struct keys_entry *items = realloc(e->items, cap * sizeof(*items));
        if (items == NULL)
            return OB_ENOMEM;
        e->items = items;
        e->cap = cap;
    }
    e->items[e->count].user = strdup(user);
    e->items[e->count].key = strdup(key);
    if (e->items[e->count].user == NULL || e->items[e->count].key == NULL) {
        free(e->items[e->count].user);
        free(e->items[e->count].key);
        return OB_ENOMEM;
    }
    e->count++;
    return 0;
}

void keys_entries_release(struct keys_entries *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->count; i++) {
        free(e->items[i].user);
        free(e->items[i].key);
    }
    free(e->items);
    memset(e, 0, sizeof(*e));
}

/* Sort by user, keeping each user's order: merge sort is stable. */
static void entries_sort(struct keys_entry *a, struct keys_entry *tmp, size_t n)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    entries_sort(a, tmp, mid);
    entries_sort(a + mid, tmp, n - mid);
    while (i < mid && j < n)
        tmp[k++] = strcmp(a[j].user, a[i].user) < 0 ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int keys_cache_write(const char *path, struct keys_entries *e, struct ob_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem;
    int rc;

    if (e->count > 1) {
        struct keys_entry *scratch = malloc(e->count * sizeof(*scratch));
        if (scratch == NULL)
            return ob_fail(err, OB_ENOMEM, "out of memory");
        entries_sort(e->items, scratch, e->count);
        free(scratch);
    }
    mem = open_memstream(&text, &len);
    if (mem == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    fputs(CACHE_HEADER, mem);
    for (size_t i = 0; i < e->count; i++)
        fprintf(mem, "%s\t%s\n", e->items[i].user, e->items[i].key);
    if (fclose(mem) != 0) {
        free(text);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    /* 0644 whatever the umask: sshd's AuthorizedKeysCommandUser reads it. */
    rc = file_write_atomic(path, text, len, 0644, err);
    free(text);
    return rc;
}

int keys_cache_read(const char *path, struct keys_entries *e, struct ob_error *err)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;

    if (fp == NULL) {
        if (errno == ENOENT)
            return ob_fail(err, OB_ENOTFOUND, "%s does not exist", path);
        return ob_fail(err, OB_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    while ((n = getline(&line, &cap, fp)) > 0) {
        char *tab;
        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (line[0] == '#' || n == 0)
            continue;
        tab = strchr(line, '\t');
        if (tab == NULL) {
            rc = ob_fail(err, OB_EINVAL, "%s:%u: not USER<TAB>KEY", path, lineno);
            break;
        }
        *tab = '\0';
        if (keys_entries_add(e, line, tab + 1) != 0) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            break;
        }
    }
    free(line);
    fclose(fp);
    return rc;
}

/* ---- look-up ---- */

/* Start of the line holding offset p (p < end). */
static const char *line_start(const char *base, const char *p)
{
    while (p > base && p[-1] != '\n')
        p--;
    return p;
}

/* Compare the user field of the line at l with user (ulen bytes). */
static int line_cmp(const char *l, const char *end, const char *user, size_t ulen)
{
    size_t i = 0;

    for (; l + i < end && l[i] != '\t' && l[i] != '\n'; i++) {
        if (i == ulen)
            return 1;
        if ((unsigned char)l[i] != (unsigned char)user[i])
            return (unsigned char)l[i] < (unsigned char)user[i] ? -1 : 1;
    }
    if (l + i >= end || l[i] != '\t')
        return -1; /* the header or a broken line: before every user */
    return i == ulen ? 0 : -1;
}

int keys_cache_lookup(const char *path, const char *user, int out_fd, struct ob_error *err)
{
    size_t ulen = strlen(user);
    struct stat st;
    const char *base, *end, *lo, *hi, *p, *first = NULL;
    int fd, count = 0;
    void *map;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return ob_fail(err, OB_ENOTFOUND, "%s does not exist", path);
        return ob_fail(err, OB_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return ob_fail(err, OB_EIO, "cannot stat %s: %s", path, strerror(errno));
    }
    if (st.st_size == 0 || ulen == 0) {
        close(fd);
        return 0;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return ob_fail(err, OB_EIO, "cannot map %s: %s", path, strerror(errno));
    base = map;
    end = base + st.st_size;
    /* Invariant: every line starting before lo sorts before user; the
     * first line of user (if any) starts in [lo, hi). */
    lo = base;
    hi = end;
    while (lo < hi) {
        const char *mid = line_start(base, lo + (hi - lo) / 2);
        if (mid < lo)
            mid = lo;
        const char *nl = memchr(mid, '\n', (size_t)(end - mid));
        const char *next = nl != NULL ? nl + 1 : end;
        if (line_cmp(mid, end, user, ulen) < 0) {
            lo = next;
        } else {
            if (mid == lo) {
                first = mid;
                break;
            }
            hi = mid;
        }
    }
    if (first == NULL)
        first = lo;
    for (p = first; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl != NULL ? nl + 1 : end;
        if (line_cmp(p, end, user, ulen) != 0)
            break;
        const char *key = p + ulen + 1;
        if (nl == NULL) /* a file cut short: never print half a line */
            break;
        if (write_all(out_fd, key, (size_t)(next - key)) != 0) {
            munmap(map, (size_t)st.st_size);
            return ob_fail(err, OB_EIO, "cannot write keys: %s", strerror(errno));
        }
        count++;
        p = next;
    }
    munmap(map, (size_t)st.st_size);
    return count;
}

/* ---- the cache path named by a configuration file ---- */

/* Find the scalar at top-level keys.cache_dir with one libyaml event pass:
 * a stack of open containers, each mapping remembering its current key. */
#define PEEK_DEPTH 64
static int peek_cache_dir(yaml_parser_t *parser, char *out, size_t cap, int *found)
{
    int is_map[PEEK_DEPTH] = {0}, want_key[PEEK_DEPTH] = {0};
    char key[3][32] = {"", "", ""};
    int depth = 0, done = 0;
    yaml_event_t ev;

    *found = 0;
    while (!done) {
        if (!yaml_parser_parse(parser, &ev))
            return -1;
        int node = ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
                   ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_ALIAS_EVENT;
        if (node && depth > 0 && is_map[depth] && want_key[depth]) {
            /* a key */
            if (depth < 3)
                snprintf(key[depth], sizeof(key[depth]), "%s",
                         ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : "");
            want_key[depth] = 0;
        } else if (node) {
            /* a value (or the root) */
            if (ev.type == YAML_SCALAR_EVENT && depth == 2 && is_map[1] && is_map[2] &&
                strcmp(key[1], "keys") == 0 && strcmp(key[2], "cache_dir") == 0) {
                snprintf(out, cap, "%s", (const char *)ev.data.scalar.value);
                *found = 1;
            }
            if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT) {
                if (depth + 1 >= PEEK_DEPTH) {
                    yaml_event_delete(&ev);
                    return -1;
                }
                depth++;
                is_map[depth] = ev.type == YAML_MAPPING_START_EVENT;
                want_key[depth] = 1;
                if (depth < 3)
                    key[depth][0] = '\0';
            } else if (depth > 0 && is_map[depth]) {
                want_key[depth] = 1;
            }
        } else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            depth--;
            if (depth > 0 && is_map[depth])
                want_key[depth] = 1;
        } else if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
            done = 1;
        }
        yaml_event_delete(&ev);
    }
    return 0;
}

int keys_cache_path_from_config(const char *config_path, char *buf, size_t cap,
                                struct ob_error *err)
{
    yaml_parser_t parser;
    char dir[4096];
    FILE *fp;
    int found = 0, rc;

    fp = fopen(config_path, "rb");
    if (fp == NULL)
        return ob_fail(err, OB_EIO, "cannot open %s: %s", config_path, strerror(errno));
    if (!yaml_parser_initialize(&parser)) {
        fclose(fp);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&parser, fp);
    rc = peek_cache_dir(&parser, dir, sizeof(dir), &found);
    yaml_parser_delete(&parser);
    fclose(fp);
    if (rc != 0)
        return ob_fail(err, OB_EINVAL, "%s is not valid YAML", config_path);
    if (!found || dir[0] == '\0')
        snprintf(dir, sizeof(dir), "%s", KEYS_DEFAULT_CACHE_DIR);
    if (dir[0] != '/') {
        char *copy = strdup(config_path);
        if (copy == NULL)
            return ob_fail(err, OB_ENOMEM, "out of memory");
        rc = snprintf(buf, cap, "%s/%s/%s", dirname(copy), dir, KEYS_CACHE_NAME);
        free(copy);
    } else {
        rc = snprintf(buf, cap, "%s/%s", dir, KEYS_CACHE_NAME);
    }
    if (rc < 0 || (size_t)rc >= cap)
        return ob_fail(err, OB_EINVAL, "cache path too long");
    return 0;
}
