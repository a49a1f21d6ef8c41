/*
 * nft.c - the nftables enforcer (docs/FIREWALL.md).
 *
 * opsbell owns one table (`inet opsbell` by default) and nothing else in the
 * ruleset:
 *
 *   table inet opsbell {
 *     set host4 { type ipv4_addr; flags timeout; }            # single addresses
 *     set host6 { type ipv6_addr; flags timeout; }
 *     set allow4 { type ipv4_addr; flags interval, timeout; } # networks
 *     set allow6 { type ipv6_addr; flags interval, timeout; }
 *     chain input { type filter hook input priority filter - 1; policy accept;
 *       tcp dport 22 ip saddr @host4 accept
 *       tcp dport 22 ip6 saddr @host6 accept
 *       tcp dport 22 ip saddr @allow4 accept
 *       tcp dport 22 ip6 saddr @allow6 accept
 *       tcp dport 22 drop                       # drop_others
 *     }
 *   }
 *
 * Nearly every entry is one address (a person's): those go into the hash
 * sets, which libnftables and the kernel fill faster than interval sets
 * (1,000 in 7.5 ms instead of 11.6 ms, docs/PERFORMANCE.md); only real
 * networks need the interval sets.
 *
 * Each entry is one or more set elements with the entry's remaining time as
 * the kernel timeout, so the kernel closes access on time by itself.  An
 * element's comment is "<id> <expires_at_ms>": list() reads the entries back
 * exactly, and apply() sees which elements changed.  Interval sets refuse
 * overlapping elements, so overlapping entries are flattened first: the entry
 * that lasts longest keeps its whole CIDR and the others keep what is left of
 * theirs (outer minus inner as disjoint CIDRs, cidr_subtract()).
 *
 * apply() lists the table, then runs ONE script (table, sets, chain, its
 * rules re-made, deletes, adds) through one nft_run_cmd_from_buffer(): one
 * netlink batch, one kernel transaction, all or nothing.  After an
 * `nft flush ruleset` the table is simply made again.
 */
#include "enforce/enforce.h"

#include "config/config.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NFT_MAX_ENTRIES 100000
#define NFT_APPLY_TRIES 3  /* an element may expire between list and apply */
#define NFT_FLUSH_OVER  32 /* more deletes than this in one set: flush it and add back */

struct nft_enf {
    pthread_mutex_t lock;
    struct nft_ctx *nft;
    char table[32];
    uint16_t port;
    int drop_others;
    unsigned max_prefix_v4, max_prefix_v6;
};

/* One wanted element: a piece of entry `entry`'s CIDR. */
struct piece {
    struct cidr c;
    size_t entry;
};

/* One element found in the kernel. */
struct kelem {
    int family;
    int host;          /* in host4/host6 (one address) rather than allow4/allow6 */
    char key[128];     /* as nft prints it, for `delete element` */
    char norm[64];     /* normalised CIDR, "" when not a CIDR (a range) */
    char comment[130]; /* "" when none */
    int keep;
};

struct vec {
    void *items;
    size_t n, cap, size;
};

static int vec_push(struct vec *v, const void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void *p = realloc(v->items, cap * v->size);

        if (p == NULL)
            return OB_ENOMEM;
        v->items = p;
        v->cap = cap;
    }
    memcpy((char *)v->items + v->n * v->size, item, v->size);
    v->n++;
    return 0;
}

/* ---- running nft -------------------------------------------------------------- */

/* The reason of nft's first error line: "Operation not permitted". */
static int nft_failure(struct nft_enf *e, struct ob_error *err)
{
    const char *buf = nft_ctx_get_error_buffer(e->nft);
    const char *p = buf != NULL ? strstr(buf, "Error: ") : NULL;
    char line[256];
    size_t len;

    if (p == NULL)
        return ob_fail(err, OB_EIO, "nftables: command failed");
    p += strlen("Error: ");
    if (strncmp(p, "Could not process rule: ", 24) == 0)
        p += 24;
    len = strcspn(p, "\n");
    if (len >= sizeof(line))
        len = sizeof(line) - 1;
    memcpy(line, p, len);
    line[len] = '\0';
    if (strstr(line, "Operation not permitted") != NULL)
        return ob_fail(err, OB_EFORBIDDEN, "nftables: Operation not permitted");
    return ob_fail(err, OB_EIO, "nftables: %s", line);
}

/*
 * 0 when this process has CAP_NET_ADMIN (or /proc cannot tell).  Without it
 * libnftables prints "Operation not permitted (you must be root)" straight
 * to stderr before failing; asking first keeps a daemon's stderr and a
 * command's one-line failure clean.
 */
static int nft_permitted(struct ob_error *err)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    int ok = 1;

    if (fp == NULL)
        return 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        unsigned long long caps;

        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            ok = (caps >> 12) & 1; /* CAP_NET_ADMIN */
            break;
        }
    }
    fclose(fp);
    return ok ? 0 : ob_fail(err, OB_EFORBIDDEN, "nftables: Operation not permitted");
}

/* Run cmd; with json, return nft's JSON output in *out (new reference). */
static int nft_run(struct nft_enf *e, const char *cmd, int json, json_t **out, struct ob_error *err)
{
    int rc = nft_permitted(err);

    if (rc != 0)
        return rc;
    nft_ctx_output_set_flags(e->nft, json ? NFT_CTX_OUTPUT_JSON : 0);
    rc = nft_run_cmd_from_buffer(e->nft, cmd);
    nft_ctx_output_set_flags(e->nft, 0);
    if (rc != 0) {
        (void)nft_ctx_get_output_buffer(e->nft);
        return nft_failure(e, err);
    }
    (void)nft_ctx_get_error_buffer(e->nft);
    if (json) {
        const char *text = nft_ctx_get_output_buffer(e->nft);
        json_error_t jerr;

        *out = json_loads(text != NULL ? text : "", 0, &jerr);
        if (*out == NULL)
            return ob_fail(err, OB_EINTERNAL, "nftables: unreadable JSON listing");
    } else {
        (void)nft_ctx_get_output_buffer(e->nft);
    }
    return 0;
}

/* ---- reading the table back -------------------------------------------------- */

static void elem_key(json_t *val, int family, struct kelem *k)
{
    json_t *prefix = json_object_get(val, "prefix"), *range = json_object_get(val, "range");
    struct cidr c;

    k->key[0] = k->norm[0] = '\0';
    if (json_is_string(val)) {
        snprintf(k->key, sizeof(k->key), "%s", json_string_value(val));
    } else if (prefix != NULL && json_is_string(json_object_get(prefix, "addr"))) {
        snprintf(k->key, sizeof(k->key), "%s/%lld",
                 json_string_value(json_object_get(prefix, "addr")),
                 (long long)json_integer_value(json_object_get(prefix, "len")));
    } else if (json_is_array(range) && json_array_size(range) == 2) {
        snprintf(k->key, sizeof(k->key), "%s-%s", json_string_value(json_array_get(range, 0)),
                 json_string_value(json_array_get(range, 1)));
        return;
    }
    if (k->key[0] != '\0' && cidr_parse(k->key, &c, NULL) == 0 && c.family == family)
        cidr_format(&c, k->norm, sizeof(k->norm));
}

/* The four sets: family, host (hash) or network (interval), name. */
static const struct nft_set {
    int family;
    int host;
    const char *name;
} nft_sets[] = {
    {AF_INET, 1, "host4"},
    {AF_INET6, 1, "host6"},
    {AF_INET, 0, "allow4"},
    {AF_INET6, 0, "allow6"},
};
#define NFT_SET_COUNT (sizeof(nft_sets) / sizeof(nft_sets[0]))

/* A piece of one address goes into a host set. */
static int cidr_is_host(const struct cidr *c)
{
    return c->prefix == (c->family == AF_INET ? 32U : 128U);
}

/* The elements of opsbell's four sets in a `list table` JSON answer. */
static int collect_elems(json_t *root, struct vec *out)
{
    json_t *arr = json_object_get(root, "nftables"), *item;
    size_t i;

    json_array_foreach(arr, i, item)
    {
        json_t *set = json_object_get(item, "set"), *elems, *el;
        const struct nft_set *which = NULL;
        const char *name;
        int family;
        size_t j;

        if (set == NULL || !json_is_string(json_object_get(set, "name")))
            continue;
        name = json_string_value(json_object_get(set, "name"));
        for (size_t s = 0; s < NFT_SET_COUNT; s++) {
            if (strcmp(name, nft_sets[s].name) == 0)
                which = &nft_sets[s];
        }
        if (which == NULL)
            continue;
        family = which->family;
        elems = json_object_get(set, "elem");
        json_array_foreach(elems, j, el)
        {
            json_t *inner = json_object_get(el, "elem");
            json_t *val = inner != NULL ? json_object_get(inner, "val") : el;
            json_t *comment = inner != NULL ? json_object_get(inner, "comment") : NULL;
            struct kelem k;

            memset(&k, 0, sizeof(k));
            k.family = family;
            k.host = which->host;
            elem_key(val, family, &k);
            if (k.key[0] == '\0')
                continue;
            if (json_is_string(comment))
                snprintf(k.comment, sizeof(k.comment), "%s", json_string_value(comment));
            if (vec_push(out, &k) != 0)
                return OB_ENOMEM;
        }
    }
    return 0;
}

/* The table's elements; an absent table has none. */
static int list_kernel(struct nft_enf *e, struct vec *out, struct ob_error *err)
{
    char cmd[160];
    json_t *root = NULL;
    int rc;

    snprintf(cmd, sizeof(cmd), "list table inet %s", e->table);
    rc = nft_run(e, cmd, 1, &root, err);
    if (rc != 0) {
        if (strstr(err != NULL ? err->msg : "", "No such file or directory") != NULL) {
            ob_error_clear(err);
            return 0;
        }
        return rc;
    }
    rc = collect_elems(root, out);
    json_decref(root);
    if (rc != 0)
        return ob_fail(err, rc, "out of memory");
    return 0;
}

/* "<id> <expires_at_ms>" -> id and expiry. */
static int parse_comment(const char *comment, struct access_entry *out)
{
    const char *sp = strrchr(comment, ' ');
    char *end;
    long long exp;

    if (sp == NULL || (size_t)(sp - comment) >= sizeof(out->id) || sp == comment)
        return -1;
    exp = strtoll(sp + 1, &end, 10);
    if (*end != '\0' || exp <= 0)
        return -1;
    memset(out, 0, sizeof(*out));
    memcpy(out->id, comment, (size_t)(sp - comment));
    out->expires_at_ms = exp;
    return 0;
}

/* ---- wanted state ----------------------------------------------------------------- */

struct sortable {
    const struct access_entry *e;
    size_t index;
    struct cidr c;
    int overlaps; /* shares an address with another live entry */
};

static int by_expiry_desc(const void *a, const void *b)
{
    const struct sortable *x = a, *y = b;

    if (x->e->expires_at_ms != y->e->expires_at_ms)
        return x->e->expires_at_ms > y->e->expires_at_ms ? -1 : 1;
    return strcmp(x->e->id, y->e->id);
}

/* Family, then address, then the wider first: a CIDR's containers come
 * right before it, on a stack. */
static int by_address(const void *a, const void *b)
{
    const struct sortable *x = a, *y = b;
    int d;

    if (x->c.family != y->c.family)
        return x->c.family < y->c.family ? -1 : 1;
    d = memcmp(x->c.addr, y->c.addr, sizeof(x->c.addr));
    if (d != 0)
        return d;
    return x->c.prefix < y->c.prefix ? -1 : x->c.prefix > y->c.prefix;
}

/* Mark every entry that overlaps another (CIDRs nest or are disjoint). */
static void mark_overlaps(struct sortable *order, size_t n)
{
    size_t stack[130], depth = 0;

    qsort(order, n, sizeof(*order), by_address);
    for (size_t i = 0; i < n; i++) {
        while (depth > 0 && !cidr_contains(&order[stack[depth - 1]].c, &order[i].c))
            depth--;
        if (depth > 0) {
            order[i].overlaps = 1;
            for (size_t k = 0; k < depth; k++)
                order[stack[k]].overlaps = 1;
        }
        /* Equal CIDRs contain each other: the stack never grows past 129. */
        if (depth < sizeof(stack) / sizeof(stack[0]))
            stack[depth++] = i;
    }
}

/* Subtract every placed piece from c; push what is left as pieces of entry. */
static int place(struct vec *pieces, const struct cidr *c, size_t entry)
{
    struct cidr *work = malloc(sizeof(*work)), *next = NULL;
    size_t nwork = 1;
    int rc = 0;

    if (work == NULL)
        return OB_ENOMEM;
    work[0] = *c;
    for (size_t p = 0; p < pieces->n && nwork > 0; p++) {
        const struct piece *pc = (const struct piece *)pieces->items + p;
        size_t nnext = 0, cap = nwork * 129;

        if (pc->c.family != c->family || !cidr_overlaps(&pc->c, c))
            continue;
        next = malloc(cap * sizeof(*next));
        if (next == NULL) {
            free(work);
            return OB_ENOMEM;
        }
        for (size_t w = 0; w < nwork; w++) {
            size_t got = 0;

            (void)cidr_subtract(&work[w], &pc->c, next + nnext, cap - nnext, &got);
            nnext += got;
        }
        free(work);
        work = next;
        next = NULL;
        nwork = nnext;
    }
    for (size_t w = 0; w < nwork && rc == 0; w++) {
        struct piece pc = {work[w], entry};

        rc = vec_push(pieces, &pc);
    }
    free(work);
    return rc;
}

/*
 * Check entries and flatten the live ones into disjoint pieces.  Entries
 * that overlap nothing (the usual case) are pieces as they are; only the
 * overlapping ones go through place(), longest-lasting first.
 */
static int wanted_pieces(struct nft_enf *e, const struct access_entry *entries, size_t n,
                         int64_t now_ms, struct vec *pieces, struct ob_error *err)
{
    struct sortable *order;
    size_t live = 0, nover = 0;
    int rc = 0;

    if (n > NFT_MAX_ENTRIES)
        return ob_fail(err, OB_ETOOLARGE, "%zu entries, at most %d", n, NFT_MAX_ENTRIES);
    order = calloc(n ? n : 1, sizeof(*order));
    if (order == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct cidr c;
        struct ob_error sub;

        ob_error_clear(&sub);
        if (access_entry_check_id(entries[i].id, &sub) != 0 ||
            cidr_parse(entries[i].cidr, &c, &sub) != 0) {
            rc = ob_fail(err, OB_EINVAL, "entry %zu: %s", i, sub.msg);
            goto out;
        }
        if (cidr_too_wide(&c, e->max_prefix_v4, e->max_prefix_v6)) {
            rc = ob_fail(err, OB_EINVAL, "entry %s: %s is too wide (at most /%u for IPv%d)",
                         entries[i].id, entries[i].cidr,
                         c.family == AF_INET ? e->max_prefix_v4 : e->max_prefix_v6,
                         c.family == AF_INET ? 4 : 6);
            goto out;
        }
        if (entries[i].expires_at_ms <= now_ms)
            continue;
        order[live].e = &entries[i];
        order[live].index = i;
        order[live].c = c;
        live++;
    }
    mark_overlaps(order, live);
    for (size_t i = 0; i < live; i++) {
        struct piece pc = {order[i].c, order[i].index};

        if (order[i].overlaps)
            order[nover++] = order[i]; /* nover <= i: compacts in place */
        else if (vec_push(pieces, &pc) != 0)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    if (rc != 0)
        goto out;
    qsort(order, nover, sizeof(*order), by_expiry_desc);
    {
        struct vec group = {NULL, 0, 0, sizeof(struct piece)};

        for (size_t i = 0; i < nover && rc == 0; i++)
            rc = place(&group, &order[i].c, order[i].index);
        for (size_t i = 0; i < group.n && rc == 0; i++)
            rc = vec_push(pieces, (const struct piece *)group.items + i);
        free(group.items);
        if (rc != 0)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
out:
    free(order);
    return rc;
}

/* ---- apply ---------------------------------------------------------------------- */

static void add_structure(struct nft_enf *e, struct strbuf *sb)
{
    const char *t = e->table;

    strbuf_addf(sb, "add table inet %s\n", t);
    strbuf_addf(sb, "add set inet %s host4 { type ipv4_addr; flags timeout; }\n", t);
    strbuf_addf(sb, "add set inet %s host6 { type ipv6_addr; flags timeout; }\n", t);
    strbuf_addf(sb, "add set inet %s allow4 { type ipv4_addr; flags interval, timeout; }\n", t);
    strbuf_addf(sb, "add set inet %s allow6 { type ipv6_addr; flags interval, timeout; }\n", t);
    strbuf_addf(sb,
                "add chain inet %s input { type filter hook input priority filter - 1; "
                "policy accept; }\n",
                t);
    strbuf_addf(sb, "flush chain inet %s input\n", t);
    strbuf_addf(sb, "add rule inet %s input tcp dport %u ip saddr @host4 accept\n", t, e->port);
    strbuf_addf(sb, "add rule inet %s input tcp dport %u ip6 saddr @host6 accept\n", t, e->port);
    strbuf_addf(sb, "add rule inet %s input tcp dport %u ip saddr @allow4 accept\n", t, e->port);
    strbuf_addf(sb, "add rule inet %s input tcp dport %u ip6 saddr @allow6 accept\n", t, e->port);
    if (e->drop_others)
        strbuf_addf(sb, "add rule inet %s input tcp dport %u drop\n", t, e->port);
}

static int kelem_cmp(const void *a, const void *b)
{
    const struct kelem *x = a, *y = b;

    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return strcmp(x->norm, y->norm);
}

/* The kernel element with this normalised key in that kind of set (k
 * sorted by kelem_cmp). */
static struct kelem *find_kelem(struct vec *k, const char *norm, int family, int host)
{
    struct kelem key;

    if (k->n == 0)
        return NULL;
    memset(&key, 0, sizeof(key));
    key.family = family;
    key.host = host;
    snprintf(key.norm, sizeof(key.norm), "%s", norm);
    return bsearch(&key, k->items, k->n, sizeof(struct kelem), kelem_cmp);
}

static int apply_once(struct nft_enf *e, const struct access_entry *entries, struct vec *pieces,
                      int64_t now_ms, struct ob_error *err)
{
    struct vec kernel = {NULL, 0, 0, sizeof(struct kelem)};
    struct strbuf sb = STRBUF_INIT;
    int rc;

    rc = list_kernel(e, &kernel, err);
    if (rc != 0)
        goto out;
    if (kernel.n > 0)
        qsort(kernel.items, kernel.n, sizeof(struct kelem), kelem_cmp);
    add_structure(e, &sb);
    /* Keep elements that are already right; note the pieces to add. */
    char *unplaced = calloc(pieces->n ? pieces->n : 1, 1);
    if (unplaced == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < pieces->n; i++) {
        const struct piece *p = (const struct piece *)pieces->items + i;
        const struct access_entry *en = &entries[p->entry];
        char norm[CIDR_TEXT_MAX], comment[130];
        struct kelem *ke;

        cidr_format(&p->c, norm, sizeof(norm));
        snprintf(comment, sizeof(comment), "%s %lld", en->id, (long long)en->expires_at_ms);
        ke = find_kelem(&kernel, norm, p->c.family, cidr_is_host(&p->c));
        if (ke != NULL && strcmp(ke->comment, comment) == 0)
            ke->keep = 1;
        else
            unplaced[i] = 1;
    }
    for (size_t s = 0; s < NFT_SET_COUNT; s++) {
        int family = nft_sets[s].family, host = nft_sets[s].host;
        const char *set = nft_sets[s].name;
        int first = 1, flush = 0;
        size_t ndel = 0;

        for (size_t i = 0; i < kernel.n; i++) {
            const struct kelem *ke = (const struct kelem *)kernel.items + i;

            ndel += !ke->keep && ke->family == family && ke->host == host;
        }
        if (ndel > NFT_FLUSH_OVER) {
            /* Many deletes from an interval set are slow in libnftables
             * 1.0.6 (200 ms for 1,000, docs/PERFORMANCE.md); emptying the set
             * and adding everything back is 10 times faster, and in the same
             * batch the kernel never shows the set empty. */
            strbuf_addf(&sb, "flush set inet %s %s\n", e->table, set);
            flush = 1;
            for (size_t i = 0; i < pieces->n; i++) {
                const struct cidr *c = &((const struct piece *)pieces->items)[i].c;
                if (c->family == family && cidr_is_host(c) == host)
                    unplaced[i] = 1;
            }
        }
        for (size_t i = 0; i < kernel.n && !flush; i++) {
            const struct kelem *ke = (const struct kelem *)kernel.items + i;

            if (ke->keep || ke->family != family || ke->host != host)
                continue;
            if (first)
                strbuf_addf(&sb, "delete element inet %s %s { ", e->table, set);
            strbuf_addf(&sb, "%s%s", first ? "" : ", ", ke->key);
            first = 0;
        }
        if (!first)
            strbuf_adds(&sb, " }\n");
        first = 1;
        for (size_t i = 0; i < pieces->n; i++) {
            const struct piece *p = (const struct piece *)pieces->items + i;
            const struct access_entry *en = &entries[p->entry];
            char norm[CIDR_TEXT_MAX];
            int64_t left = en->expires_at_ms - now_ms;

            if (!unplaced[i] || p->c.family != family || cidr_is_host(&p->c) != host)
                continue;
            if (left < 1)
                left = 1;
            cidr_format(&p->c, norm, sizeof(norm));
            if (host) /* a hash set takes the bare address */
                norm[strcspn(norm, "/")] = '\0';
            if (first)
                strbuf_addf(&sb, "add element inet %s %s { ", e->table, set);
            strbuf_addf(&sb, "%s%s timeout %lldms comment \"%s %lld\"", first ? "" : ", ", norm,
                        (long long)left, en->id, (long long)en->expires_at_ms);
            first = 0;
        }
        if (!first)
            strbuf_adds(&sb, " }\n");
    }
    free(unplaced);
    rc = nft_run(e, strbuf_str(&sb), 0, NULL, err);
out:
    free(kernel.items);
    strbuf_release(&sb);
    return rc;
}

static int nft_apply(void *ctx, const struct access_entry *entries, size_t n, int64_t now_ms,
                     struct ob_error *err)
{
    struct nft_enf *e = ctx;
    struct vec pieces = {NULL, 0, 0, sizeof(struct piece)};
    int rc;

    pthread_mutex_lock(&e->lock);
    rc = wanted_pieces(e, entries, n, now_ms, &pieces, err);
    for (int i = 0; rc == 0 && i < NFT_APPLY_TRIES; i++) {
        ob_error_clear(err);
        rc = apply_once(e, entries, &pieces, now_ms, err);
        /* An element that expired between the listing and the batch makes
         * its delete fail: list again and retry. */
        if (rc == 0 || err == NULL || strstr(err->msg, "does not exist") == NULL)
            break;
    }
    pthread_mutex_unlock(&e->lock);
    free(pieces.items);
    return rc;
}

/* ---- list, flush ------------------------------------------------------------------- */

static int nft_list(void *ctx, struct access_entry **out, size_t *n, struct ob_error *err)
{
    struct nft_enf *e = ctx;
    struct vec kernel = {NULL, 0, 0, sizeof(struct kelem)};
    struct vec result = {NULL, 0, 0, sizeof(struct access_entry)};
    int rc;

    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&e->lock);
    rc = list_kernel(e, &kernel, err);
    pthread_mutex_unlock(&e->lock);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < kernel.n; i++) {
        const struct kelem *ke = (const struct kelem *)kernel.items + i;
        struct access_entry ae;

        if (parse_comment(ke->comment, &ae) != 0) {
            memset(&ae, 0, sizeof(ae));
            snprintf(ae.id, sizeof(ae.id), "unknown");
        }
        snprintf(ae.cidr, sizeof(ae.cidr), "%.63s", ke->norm[0] != '\0' ? ke->norm : ke->key);
        if (vec_push(&result, &ae) != 0) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = result.items;
    *n = result.n;
    result.items = NULL;
out:
    free(result.items);
    free(kernel.items);
    return rc;
}

static int nft_flush(void *ctx, struct ob_error *err)
{
    struct nft_enf *e = ctx;
    char cmd[160];
    int rc;

    /* `add` first makes the delete succeed when the table is already gone. */
    snprintf(cmd, sizeof(cmd), "add table inet %s\ndelete table inet %s\n", e->table, e->table);
    pthread_mutex_lock(&e->lock);
    rc = nft_run(e, cmd, 0, NULL, err);
    pthread_mutex_unlock(&e->lock);
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static int nft_create(const struct config *cfg, void **ctx, struct ob_error *err)
{
    const struct config_nftables *c = cfg != NULL ? &cfg->enforcers.nftables : NULL;
    struct nft_enf *e = calloc(1, sizeof(*e));

    *ctx = NULL;
    if (e == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    snprintf(e->table, sizeof(e->table), "%s",
             c != NULL && c->table != NULL ? c->table : "opsbell");
    /* The configuration fills every field, section or not (mainfile.c). */
    e->port = c != NULL ? c->port : 22;
    e->drop_others = c != NULL ? c->drop_others : 1;
    e->max_prefix_v4 = c != NULL ? c->max_prefix_v4 : CIDR_DEFAULT_MAX_PREFIX_V4;
    e->max_prefix_v6 = c != NULL ? c->max_prefix_v6 : CIDR_DEFAULT_MAX_PREFIX_V6;
    e->nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (e->nft == NULL) {
        free(e);
        return ob_fail(err, OB_EINTERNAL, "nftables: cannot make a context");
    }
    nft_ctx_buffer_output(e->nft);
    nft_ctx_buffer_error(e->nft);
    pthread_mutex_init(&e->lock, NULL);
    *ctx = e;
    return 0;
}

static void nft_destroy(void *ctx)
{
    struct nft_enf *e = ctx;

    if (e == NULL)
        return;
    nft_ctx_free(e->nft);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

const struct enforcer enforcer_nftables = {
    .name = "nftables",
    .create = nft_create,
    .destroy = nft_destroy,
    .apply = nft_apply,
    .list = nft_list,
    .flush = nft_flush,
};
