/*
 * config.c - config_load(): finds and reads opsbell.yaml, users.yaml and the
 * team files, runs them through yamlpos, libcyaml and the checks, and hands
 * out an immutable, reference-counted struct config; plus config_ref/unref,
 * the look-ups and config_check_buffer().
 */
#include "config/internal.h"
#include "config/yamlpos.h"

#include "oncall/schedule.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_USERS_FILE "users.yaml"
#define DEFAULT_TEAMS_DIR  "teams"

/* The reference count lives beside the public struct, so that config.h
 * stays a plain description of the model.  cfg is the first member: a
 * struct config * from config_load() is a struct config_box *. */
struct config_box {
    struct config cfg;
    atomic_uint refs;
};

/* Everything one config_load() holds until it returns. */
struct loader {
    struct cfgctx ctx;
    const char *display_dir; /* directory of the main file as given; "" for cwd */
    struct cfgfile **files;  /* every file read, main first */
    unsigned file_count, file_cap;
    char **team_names; /* sorted */
    unsigned team_count, team_cap;
    int teams_unreadable; /* a team file could not be read at all */
};

/* ---- small helpers ---- */

/* "dir/name", or name alone when dir is "" or name is absolute. */
static char *config_join(const char *dir, const char *name)
{
    size_t len;
    char *out;

    if (dir[0] == '\0' || name[0] == '/')
        return strdup(name);
    len = strlen(dir) + strlen(name) + 2;
    out = malloc(len);
    if (out != NULL)
        snprintf(out, len, "%s/%s", dir, name);
    return out;
}

static int config_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void config_file_free(struct cfgfile *f)
{
    if (f == NULL)
        return;
    schema_free(f->kind, f->raw);
    yamlpos_free(f->pos);
    free(f->display);
    free(f->team);
    free(f->team_dir);
    free(f);
}

/*
 * Read a whole file, refusing more than CONFIG_FILE_MAX bytes (a YAML bomb
 * or a wrong path should not exhaust memory).  Returns 0, OB_ETOOLARGE, or
 * OB_EIO with errno set.
 */
static int config_read_file(const char *path, char **data, size_t *len)
{
    FILE *fp;
    char *buf = NULL;
    size_t n;
    struct stat st;
    int saved_errno;
    int rc = 0;

    *data = NULL;
    *len = 0;
    fp = fopen(path, "rb");
    if (fp == NULL)
        return OB_EIO;
    if (fstat(fileno(fp), &st) != 0) {
        rc = OB_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        errno = EISDIR;
        rc = OB_EIO;
        goto out;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        rc = OB_ETOOLARGE;
        goto out;
    }
    buf = malloc(CONFIG_FILE_MAX + 1);
    if (buf == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    /* Read one byte past the cap: the file may have grown since fstat. */
    n = fread(buf, 1, CONFIG_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        rc = OB_EIO;
        goto out;
    }
    if (n > CONFIG_FILE_MAX) {
        rc = OB_ETOOLARGE;
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
out:
    saved_errno = errno;
    free(buf);
    fclose(fp);
    errno = saved_errno; /* callers print why reading failed */
    return rc;
}

/* Steps 1 and 2 on one buffer: syntax and positions, then the schema.  On
 * success f->pos and f->raw are set. 0, OB_EINVAL or OB_ENOMEM. */
static int config_parse_buffer(struct cfgctx *c, struct cfgfile *f, const char *data, size_t len)
{
    int rc = yamlpos_build(data, len, f->display, &f->pos, c->diags);

    if (rc == 0)
        rc = schema_load(f->kind, f->display, data, len, f->pos, &f->raw, c->diags);
    if (rc == OB_ENOMEM)
        c->oom = 1;
    else if (rc != 0)
        c->failed = 1;
    return rc;
}

/*
 * Read and parse the file `display` into a new cfgfile appended to ld.
 * A missing file is reported unless missing_ok (then *out stays NULL and 0
 * is returned); `from`/`from_path` name the node that pointed here, so that
 * "cannot read" errors point at the setting rather than at nothing.
 */
static int config_open_file(struct loader *ld, enum config_doc_kind kind, const char *display,
                            int missing_ok, const struct cfgfile *from, const char *from_path,
                            struct cfgfile **out)
{
    struct cfgctx *c = &ld->ctx;
    struct cfgfile *f = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = config_read_file(display, &data, &len);
    if (rc == OB_EIO && errno == ENOENT && missing_ok)
        return 0;
    if (rc == OB_ENOMEM) {
        c->oom = 1;
        return rc;
    }
    if (rc == OB_ETOOLARGE || rc == OB_EIO) {
        char why[160];
        if (rc == OB_ETOOLARGE)
            snprintf(why, sizeof(why), "file is larger than %d bytes", CONFIG_FILE_MAX);
        else
            snprintf(why, sizeof(why), "cannot read: %s", strerror(errno));
        if (from != NULL) {
            diag_report(c, from, from_path, "%s: %s", display, why);
        } else {
            c->failed = 1;
            if (config_diags_add(c->diags, display, 0, 0, "%s", why) != 0)
                c->oom = 1;
        }
        return rc;
    }
    if (ld->file_count == ld->file_cap) {
        unsigned cap = ld->file_cap == 0 ? 8 : ld->file_cap * 2;
        struct cfgfile **files = realloc(ld->files, cap * sizeof(*files));
        if (files == NULL) {
            rc = OB_ENOMEM;
            goto out;
        }
        ld->files = files;
        ld->file_cap = cap;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL || (f->display = strdup(display)) == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    f->kind = kind;
    ld->files[ld->file_count++] = f;
    *out = f;
    f = NULL;
    rc = config_parse_buffer(c, *out, data, len);
out:
    if (rc == OB_ENOMEM)
        c->oom = 1;
    config_file_free(f);
    free(data);
    return rc;
}

/* ---- teams directory ---- */

static int config_add_name(char ***names, unsigned *count, unsigned *cap, const char *name)
{
    if (*count == *cap) {
        unsigned ncap = *cap == 0 ? 16 : *cap * 2;
        char **n = realloc(*names, ncap * sizeof(*n));
        if (n == NULL)
            return OB_ENOMEM;
        *names = n;
        *cap = ncap;
    }
    (*names)[*count] = strdup(name);
    if ((*names)[*count] == NULL)
        return OB_ENOMEM;
    (*count)++;
    return 0;
}

static void config_free_names(char **names, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static int config_is_yaml_name(const char *name)
{
    size_t len = strlen(name);

    return name[0] != '.' && ((len > 5 && strcmp(name + len - 5, ".yaml") == 0) ||
                              (len > 4 && strcmp(name + len - 4, ".yml") == 0));
}

/* Sorted names of the entries of dir that are directories (dirs=1) or
 * YAML files (dirs=0); hidden entries are skipped. */
static int config_list_dir(const char *dir, int dirs, char ***names, unsigned *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned cap = 0;
    int rc = 0;

    *names = NULL;
    *count = 0;
    if (d == NULL)
        return OB_EIO;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char *full;
        int is_dir;
        if (de->d_name[0] == '.')
            continue;
        full = config_join(dir, de->d_name);
        if (full == NULL) {
            rc = OB_ENOMEM;
            break;
        }
        is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        free(full);
        if (dirs ? !is_dir : (is_dir || !config_is_yaml_name(de->d_name)))
            continue;
        rc = config_add_name(names, count, &cap, de->d_name);
        if (rc != 0)
            break;
    }
    closedir(d);
    if (rc != 0) {
        config_free_names(*names, *count);
        *names = NULL;
        *count = 0;
        return rc;
    }
    if (*count > 1)
        qsort(*names, *count, sizeof(**names), config_str_cmp);
    return 0;
}

static int config_load_team(struct loader *ld, const char *teams_display, const char *team)
{
    struct cfgctx *c = &ld->ctx;
    char *dir = config_join(teams_display, team);
    char **files = NULL;
    unsigned nfiles = 0;
    int rc;

    if (dir == NULL)
        return OB_ENOMEM;
    rc = config_list_dir(dir, 0, &files, &nfiles);
    if (rc == OB_EIO) {
        ld->teams_unreadable = 1;
        c->failed = 1;
        if (config_diags_add(c->diags, dir, 0, 0, "cannot read team directory: %s",
                             strerror(errno)) != 0)
            c->oom = 1;
        goto out;
    }
    if (rc != 0)
        goto out;
    if (nfiles > CONFIG_MAX_TEAM_FILES) {
        c->failed = 1;
        if (config_diags_add(c->diags, dir, 0, 0, "more than %d files in one team directory",
                             CONFIG_MAX_TEAM_FILES) != 0)
            c->oom = 1;
        goto out;
    }
    for (unsigned i = 0; i < nfiles; i++) {
        char *display = config_join(dir, files[i]);
        struct cfgfile *f = NULL;
        if (display == NULL) {
            rc = OB_ENOMEM;
            goto out;
        }
        rc = config_open_file(ld, CONFIG_DOC_TEAM, display, 0, NULL, NULL, &f);
        free(display);
        if (rc == OB_ENOMEM)
            goto out;
        if (f == NULL) {
            ld->teams_unreadable = 1;
            continue;
        }
        f->team = strdup(team);
        f->team_dir = malloc(strlen(dir) + 2);
        if (f->team == NULL || f->team_dir == NULL) {
            rc = OB_ENOMEM;
            goto out;
        }
        snprintf(f->team_dir, strlen(dir) + 2, "%s/", dir);
        if (f->raw != NULL)
            teams_check_file(c, f);
    }
    rc = 0;
out:
    if (rc == OB_ENOMEM)
        c->oom = 1;
    config_free_names(files, nfiles);
    free(dir);
    return rc;
}

/*
 * Every subdirectory of teams_dir is a team (its name must be a valid
 * name); YAML files directly in teams_dir belong to no team and are refused
 * rather than silently ignored.
 */
static int config_load_teams(struct loader *ld, const struct cfgfile *main_file,
                             const char *teams_dir, int explicit_dir)
{
    struct cfgctx *c = &ld->ctx;
    char *display = config_join(ld->display_dir, teams_dir);
    char **dirs = NULL, **stray = NULL;
    unsigned ndirs = 0, nstray = 0;
    int rc;

    if (display == NULL)
        return OB_ENOMEM;
    rc = config_list_dir(display, 1, &dirs, &ndirs);
    if (rc == OB_EIO) {
        rc = 0;
        if (errno != ENOENT || explicit_dir)
            diag_report(c, main_file, "teams_dir", "cannot read teams directory %s: %s", display,
                        strerror(errno));
        goto out;
    }
    if (rc == 0)
        rc = config_list_dir(display, 0, &stray, &nstray);
    if (rc != 0)
        goto out;
    for (unsigned i = 0; i < nstray; i++) {
        char *path = config_join(display, stray[i]);
        if (path == NULL) {
            rc = OB_ENOMEM;
            goto out;
        }
        c->failed = 1;
        if (config_diags_add(c->diags, path, 0, 0,
                             "team files belong in %s/<team>/; this file is not part of any "
                             "team",
                             display) != 0)
            c->oom = 1;
        free(path);
    }
    if (ndirs > CONFIG_MAX_TEAMS) {
        diag_report(c, main_file, "teams_dir", "more than %d teams in %s", CONFIG_MAX_TEAMS,
                    display);
        goto out;
    }
    for (unsigned i = 0; i < ndirs; i++) {
        if (!value_is_name(dirs[i])) {
            char *path = config_join(display, dirs[i]);
            if (path == NULL) {
                rc = OB_ENOMEM;
                goto out;
            }
            c->failed = 1;
            if (config_diags_add(c->diags, path, 0, 0,
                                 "team directory name '%s' is not a valid team name (use 1 to "
                                 "63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
                                 dirs[i]) != 0)
                c->oom = 1;
            free(path);
            continue;
        }
        rc = config_add_name(&ld->team_names, &ld->team_count, &ld->team_cap, dirs[i]);
        if (rc == 0)
            rc = config_load_team(ld, display, dirs[i]);
        if (rc == OB_ENOMEM)
            goto out;
    }
    rc = 0;
out:
    if (rc == OB_ENOMEM)
        c->oom = 1;
    config_free_names(dirs, ndirs);
    config_free_names(stray, nstray);
    free(display);
    return rc;
}

/* ---- the model ---- */

static void config_free_strings(char **list, unsigned n)
{
    for (unsigned i = 0; list != NULL && i < n; i++)
        free(list[i]);
    free(list);
}

/* Free a credential string, wiping it first. */
static void config_free_key(char *key)
{
    if (key != NULL)
        OPENSSL_cleanse(key, strlen(key));
    free(key);
}

static void config_free_team(struct config_team *t)
{
    free(t->name);
    free(t->description);
    config_free_strings(t->members, t->member_count);
    free(t->chat_channel);
    for (unsigned i = 0; t->services != NULL && i < t->service_count; i++) {
        struct config_service *s = &t->services[i];
        free(s->name);
        free(s->description);
        free(s->escalation_policy);
        config_free_key(s->integration_key);
        matcher_set_release(&s->match);
        config_free_strings(s->dedup_labels, s->dedup_label_count);
    }
    free(t->services);
    for (unsigned i = 0; t->heartbeats != NULL && i < t->heartbeat_count; i++) {
        struct config_heartbeat *h = &t->heartbeats[i];
        free(h->name);
        free(h->service_name);
        config_free_key(h->key);
        free(h->summary);
        free(h->severity);
    }
    free(t->heartbeats);
    matcher_set_release(&t->match);
    free(t->fallback_service_name);
    for (unsigned i = 0; t->policies != NULL && i < t->policy_count; i++) {
        struct config_escalation_policy *p = &t->policies[i];
        free(p->name);
        free(p->description);
        for (unsigned k = 0; p->steps != NULL && k < p->step_count; k++) {
            config_free_strings(p->steps[k].users, p->steps[k].user_count);
            config_free_strings(p->steps[k].schedules, p->steps[k].schedule_count);
            free(p->steps[k].user_refs);
            free(p->steps[k].schedule_refs);
        }
        free(p->steps);
    }
    free(t->policies);
    for (unsigned i = 0; t->schedules != NULL && i < t->schedule_count; i++) {
        struct config_schedule *s = &t->schedules[i];
        free(s->name);
        free(s->description);
        free(s->time_zone);
        for (unsigned l = 0; s->layers != NULL && l < s->layer_count; l++) {
            struct config_schedule_layer *layer = &s->layers[l];
            free(layer->name);
            free(layer->time_zone);
            free(layer->start);
            free(layer->rrule);
            config_free_strings(layer->users, layer->user_count);
            free(layer->restrictions);
            rotation_free(layer->rotation);
        }
        free(s->layers);
    }
    free(t->schedules);
    for (unsigned i = 0; t->host_groups != NULL && i < t->host_group_count; i++) {
        free(t->host_groups[i].name);
        config_free_strings(t->host_groups[i].hosts, t->host_groups[i].host_count);
    }
    free(t->host_groups);
    config_free_strings(t->breakglass.self_approve_users, t->breakglass.self_approve_user_count);
    config_free_strings(t->breakglass.approvers, t->breakglass.approver_count);
}

static void config_free_user(struct config_user *u)
{
    free(u->name);
    free(u->full_name);
    free(u->nickname);
    free(u->time_zone);
    free(u->email);
    for (unsigned i = 0; u->chat_ids != NULL && i < u->chat_id_count; i++) {
        free(u->chat_ids[i].provider);
        free(u->chat_ids[i].id);
    }
    free(u->chat_ids);
    for (unsigned i = 0; u->contact_methods != NULL && i < u->contact_method_count; i++)
        free(u->contact_methods[i].address);
    free(u->contact_methods);
    free(u->notification_rules);
    config_free_strings(u->logins, u->login_count);
}

void config_free_model(struct config *cfg)
{
    struct config_providers *p = &cfg->providers;

    free(cfg->path);
    free(cfg->base_dir);
    free(cfg->listen_host);
    free(cfg->storage_url);
    free(cfg->public_url);
    free(cfg->default_notification_rules);
    free(p->log.path);
    free(cfg->enforcers.nftables.table);
    free(p->slack.api_url);
    secret_release(&p->slack.bot_token);
    secret_release(&p->slack.signing_secret);
    free(p->mattermost.api_url);
    secret_release(&p->mattermost.command_token);
    secret_release(&p->webhook.signing_secret);
    free(p->twilio.api_url);
    free(p->twilio.account_sid);
    secret_release(&p->twilio.auth_token);
    free(p->twilio.from_number);
    free(p->smtp.url);
    free(p->smtp.username);
    secret_release(&p->smtp.password);
    free(p->smtp.from_address);
    free(p->sip.outbound_proxy);
    free(p->sip.from_uri);
    free(p->sip.username);
    free(p->sip.listen_host);
    free(p->sip.trunk);
    secret_release(&p->sip.password);
    secret_release(&cfg->ssh_ca.key);
    free(cfg->enforcers.aws.region);
    free(cfg->enforcers.aws.security_group_id);
    free(cfg->enforcers.aws.endpoint);
    free(cfg->enforcers.aws.access_key_id);
    secret_release(&cfg->enforcers.aws.secret_access_key);
    secret_release(&cfg->enforcers.aws.session_token);
    free(cfg->keys.repository);
    free(cfg->keys.branch);
    free(cfg->keys.path);
    free(cfg->keys.cache_dir);
    free(cfg->enforcers.aws.host_group);
    config_free_strings(cfg->allowlist.trusted_proxies, cfg->allowlist.trusted_proxy_count);
    secret_release(&cfg->allowlist.access_logs_token);
    for (unsigned i = 0; cfg->users != NULL && i < cfg->user_count; i++)
        config_free_user(&cfg->users[i]);
    free(cfg->users);
    for (unsigned i = 0; cfg->teams != NULL && i < cfg->team_count; i++)
        config_free_team(&cfg->teams[i]);
    free(cfg->teams);
    memset(cfg, 0, sizeof(*cfg));
}

static struct config_box *config_box_new(void)
{
    struct config_box *box = calloc(1, sizeof(*box));

    if (box != NULL)
        atomic_init(&box->refs, 1);
    return box;
}

static void config_box_free(struct config_box *box)
{
    if (box == NULL)
        return;
    config_free_model(&box->cfg);
    free(box);
}

struct config *config_ref(struct config *cfg)
{
    if (cfg != NULL)
        atomic_fetch_add_explicit(&((struct config_box *)cfg)->refs, 1, memory_order_relaxed);
    return cfg;
}

void config_unref(struct config *cfg)
{
    struct config_box *box = (struct config_box *)cfg;

    if (cfg == NULL)
        return;
    /* acq_rel: the last holder must see every other holder's reads done. */
    if (atomic_fetch_sub_explicit(&box->refs, 1, memory_order_acq_rel) == 1)
        config_box_free(box);
}

/* ---- config_load ---- */

/* Where the main file is: as given (for messages and relative paths) and
 * as an absolute directory (for the storage path and file: secrets). */
static int config_locate_main(struct loader *ld, const char *path, struct config *cfg,
                              char **display_dir)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    char real[PATH_MAX];

    if (slash == NULL)
        dir = strdup("");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    *display_dir = dir;
    cfg->path = strdup(path);
    if (dir == NULL || cfg->path == NULL)
        return OB_ENOMEM;
    if (realpath(dir[0] != '\0' ? dir : ".", real) == NULL) {
        ld->ctx.failed = 1;
        if (config_diags_add(ld->ctx.diags, path, 0, 0, "cannot read: %s", strerror(errno)) != 0)
            return OB_ENOMEM;
        return OB_EIO;
    }
    cfg->base_dir = strdup(real);
    return cfg->base_dir == NULL ? OB_ENOMEM : 0;
}

static void config_loader_release(struct loader *ld)
{
    for (unsigned i = 0; i < ld->file_count; i++)
        config_file_free(ld->files[i]);
    free(ld->files);
    config_free_names(ld->team_names, ld->team_count);
}

/* Team files that loaded, and whether all of them did. */
static struct cfgfile **config_team_files(struct loader *ld, unsigned *count, int *all)
{
    struct cfgfile **files = calloc(ld->file_count > 0 ? ld->file_count : 1, sizeof(*files));

    *count = 0;
    *all = 1;
    if (files == NULL)
        return NULL;
    for (unsigned i = 0; i < ld->file_count; i++) {
        if (ld->files[i]->kind != CONFIG_DOC_TEAM)
            continue;
        if (ld->files[i]->raw == NULL)
            *all = 0;
        else
            files[(*count)++] = ld->files[i];
    }
    return files;
}

int config_load(const char *path, struct config **out, struct config_diags *diags)
{
    struct loader ld = {0};
    struct config_box *box = config_box_new();
    struct config *cfg;
    struct cfgfile *main_file = NULL, *users_file = NULL;
    struct cfgfile **team_files = NULL;
    const struct raw_main *raw_main;
    char *display_dir = NULL, *users_display = NULL;
    unsigned nteam_files = 0;
    size_t first_diag;
    int all_teams = 1;
    int users_ok;
    int rc;

    *out = NULL;
    ld.ctx.diags = diags;
    ld.ctx.resolve_secrets = 1;
    first_diag = diags->count;
    if (box == NULL)
        return OB_ENOMEM;
    cfg = &box->cfg;
    rc = config_locate_main(&ld, path, cfg, &display_dir);
    if (rc != 0)
        goto out;
    ld.display_dir = display_dir;
    ld.ctx.base_dir = cfg->base_dir;

    rc = config_open_file(&ld, CONFIG_DOC_MAIN, path, 0, NULL, NULL, &main_file);
    /* Without the main file we do not know where the others are. */
    if (rc != 0 || main_file == NULL || main_file->raw == NULL)
        goto out;
    raw_main = main_file->raw;
    mainfile_convert(&ld.ctx, main_file, raw_main, cfg);

    users_display = config_join(display_dir, raw_main->users_file != NULL ? raw_main->users_file
                                                                          : DEFAULT_USERS_FILE);
    if (users_display == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    /* users.yaml may be absent unless users_file names it explicitly. */
    rc = config_open_file(&ld, CONFIG_DOC_USERS, users_display, raw_main->users_file == NULL,
                          main_file, "users_file", &users_file);
    if (rc == OB_ENOMEM)
        goto out;
    users_ok = rc == 0 && (users_file == NULL || users_file->raw != NULL);
    if (users_file != NULL && users_file->raw != NULL)
        users_convert(&ld.ctx, users_file, users_file->raw, cfg);

    rc = config_load_teams(&ld, main_file,
                           raw_main->teams_dir != NULL ? raw_main->teams_dir : DEFAULT_TEAMS_DIR,
                           raw_main->teams_dir != NULL);
    if (rc == OB_ENOMEM)
        goto out;
    team_files = config_team_files(&ld, &nteam_files, &all_teams);
    if (team_files == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    /* A policy in a file we could not read would look like a dangling one. */
    if (ld.teams_unreadable)
        all_teams = 0;
    /* User references are checked only against a users.yaml that loaded
     * (or is absent), or every reference would be reported as dangling. */
    teams_check_cross(&ld.ctx, team_files, nteam_files, all_teams, users_ok ? cfg : NULL);
    if (all_teams && raw_main->enforcers != NULL && raw_main->enforcers->aws != NULL)
        access_check_aws_group(&ld.ctx, main_file, raw_main->enforcers->aws->host_group, team_files,
                               nteam_files);
    rc = 0;
    if (ld.ctx.failed || ld.ctx.oom)
        goto out;
    rc = teams_build(cfg, ld.team_names, ld.team_count, team_files, nteam_files);
    if (rc == OB_EINTERNAL)
        config_diags_add(diags, path, 0, 0, "internal error: a check missed a problem");
out:
    if (rc == OB_ENOMEM || ld.ctx.oom) {
        rc = OB_ENOMEM;
        config_diags_add(diags, path, 0, 0, "out of memory while loading the configuration");
    } else if (rc == 0 && ld.ctx.failed) {
        rc = OB_EINVAL;
    } else if (rc != 0 && rc != OB_EINTERNAL) {
        rc = OB_EINVAL;
    }
    diag_sort(diags, first_diag);
    free(team_files);
    free(users_display);
    free(display_dir);
    config_loader_release(&ld);
    if (rc != 0) {
        config_box_free(box);
        return rc;
    }
    *out = cfg;
    return 0;
}

/* ---- config_check_buffer ---- */

int config_check_buffer(enum config_doc_kind kind, const char *file, const char *team_name,
                        const char *data, size_t len, struct config_diags *diags)
{
    struct cfgctx ctx = {.diags = diags, .resolve_secrets = 0};
    struct cfgfile f = {.kind = kind};
    struct config cfg;
    char team_dir[128];
    size_t first_diag = diags->count;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    if (len > CONFIG_FILE_MAX) {
        if (config_diags_add(diags, file, 0, 0, "file is larger than %d bytes", CONFIG_FILE_MAX) !=
            0)
            return OB_ENOMEM;
        return OB_EINVAL;
    }
    if (data == NULL)
        data = ""; /* libyaml asserts on a NULL input even when it is empty */
    /* The const casts are safe: f only borrows them and is never freed. */
    f.display = (char *)file;
    if (kind == CONFIG_DOC_TEAM && team_name != NULL) {
        snprintf(team_dir, sizeof(team_dir), "teams/%.60s/", team_name);
        f.team = (char *)team_name;
        f.team_dir = team_dir;
    }
    rc = config_parse_buffer(&ctx, &f, data, len);
    if (rc == 0) {
        if (kind == CONFIG_DOC_MAIN) {
            mainfile_convert(&ctx, &f, f.raw, &cfg);
        } else if (kind == CONFIG_DOC_USERS) {
            users_convert(&ctx, &f, f.raw, &cfg);
        } else {
            struct cfgfile *files[1] = {&f};
            teams_check_file(&ctx, &f);
            /* A policy may live in another file of the team: no reference checks. */
            teams_check_cross(&ctx, files, 1, 0, NULL);
        }
    }
    config_free_model(&cfg);
    schema_free(kind, f.raw);
    yamlpos_free(f.pos);
    diag_sort(diags, first_diag);
    if (ctx.oom)
        return OB_ENOMEM;
    return ctx.failed ? OB_EINVAL : 0;
}

/* ---- look-ups ---- */

const struct config_team *config_find_team(const struct config *cfg, const char *name)
{
    for (unsigned i = 0; cfg != NULL && name != NULL && i < cfg->team_count; i++) {
        if (strcmp(cfg->teams[i].name, name) == 0)
            return &cfg->teams[i];
    }
    return NULL;
}

const struct config_user *config_find_user(const struct config *cfg, const char *name)
{
    for (unsigned i = 0; cfg != NULL && name != NULL && i < cfg->user_count; i++) {
        if (strcmp(cfg->users[i].name, name) == 0)
            return &cfg->users[i];
    }
    return NULL;
}

/* Nicknames are unique regardless of case, so "/tel ann" finds "Ann". */
const struct config_user *config_find_user_by_nickname(const struct config *cfg,
                                                       const char *nickname)
{
    for (unsigned i = 0; cfg != NULL && nickname != NULL && i < cfg->user_count; i++) {
        if (strcasecmp(cfg->users[i].nickname, nickname) == 0)
            return &cfg->users[i];
    }
    return NULL;
}

const struct config_service *config_find_service(const struct config *cfg, const char *name)
{
    for (unsigned t = 0; cfg != NULL && name != NULL && t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->service_count; i++) {
            if (strcmp(team->services[i].name, name) == 0)
                return &team->services[i];
        }
    }
    return NULL;
}

const struct config_escalation_policy *config_find_policy(const struct config *cfg,
                                                          const char *name)
{
    for (unsigned t = 0; cfg != NULL && name != NULL && t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->policy_count; i++) {
            if (strcmp(team->policies[i].name, name) == 0)
                return &team->policies[i];
        }
    }
    return NULL;
}

const struct config_heartbeat *config_find_heartbeat(const struct config *cfg, const char *name)
{
    for (unsigned t = 0; cfg != NULL && name != NULL && t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->heartbeat_count; i++) {
            if (strcmp(team->heartbeats[i].name, name) == 0)
                return &team->heartbeats[i];
        }
    }
    return NULL;
}

const struct config_schedule *config_find_schedule(const struct config *cfg, const char *name)
{
    for (unsigned t = 0; cfg != NULL && name != NULL && t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->schedule_count; i++) {
            if (strcmp(team->schedules[i].name, name) == 0)
                return &team->schedules[i];
        }
    }
    return NULL;
}

const struct config_host_group *config_find_host_group(const struct config *cfg, const char *name)
{
    for (unsigned t = 0; cfg != NULL && name != NULL && t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->host_group_count; i++) {
            if (strcmp(team->host_groups[i].name, name) == 0)
                return &team->host_groups[i];
        }
    }
    return NULL;
}

/*
 * Keys are credentials: compare without an early exit on the first
 * differing byte (CRYPTO_memcmp, after a length check, which reveals only
 * the length), and look at every candidate, so that neither how much of a
 * key was right nor which object it belongs to shows in the time taken.
 */
static int config_key_equal(const char *stored, const char *given, size_t given_len)
{
    return stored != NULL && strlen(stored) == given_len &&
           CRYPTO_memcmp(stored, given, given_len) == 0;
}

const struct config_service *config_find_service_by_key(const struct config *cfg,
                                                        const char *integration_key)
{
    const struct config_service *found = NULL;
    size_t len;

    if (cfg == NULL || integration_key == NULL)
        return NULL;
    len = strlen(integration_key);
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->service_count; i++) {
            const struct config_service *s = &team->services[i];
            if (config_key_equal(s->integration_key, integration_key, len) && found == NULL)
                found = s;
        }
    }
    return found;
}

const struct config_heartbeat *config_find_heartbeat_by_key(const struct config *cfg,
                                                            const char *key)
{
    const struct config_heartbeat *found = NULL;
    size_t len;

    if (cfg == NULL || key == NULL)
        return NULL;
    len = strlen(key);
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned i = 0; i < team->heartbeat_count; i++) {
            const struct config_heartbeat *h = &team->heartbeats[i];
            if (config_key_equal(h->key, key, len) && found == NULL)
                found = h;
        }
    }
    return found;
}
