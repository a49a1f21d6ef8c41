/*
 * teams.c - checks of team files (teams/<team>/NAME.yaml): each file on its own,
 * then across files (unique names and keys, one team: section per team,
 * references to policies, services and users), and the teams of struct
 * config built from them once every check passed.
 *
 * Matchers (`match:` of services and of the team) are parsed with
 * matcher_parse() twice: once in the checks, to report each bad one at its
 * list entry, and again when the model is built (the raw documents are
 * strings only).  Keys (integration_key, heartbeat key) are credentials:
 * their shape and uniqueness are checked, their values never printed.
 */
#include "config/internal.h"

#include "oncall/schedule.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEAMS_DELAY_MAX           (7U * 24 * 3600)
#define TEAMS_REPEAT_MAX          100
#define TEAMS_HB_INTERVAL_MIN     10U
#define TEAMS_HB_INTERVAL_MAX     (30U * 24 * 3600)
#define TEAMS_HB_GRACE_MAX        (24U * 3600)
#define TEAMS_HB_DEFAULT_SEVERITY "critical"

/* What a symbol table of teams_symbols() holds. */
enum teams_sym_kind {
    TEAMS_SYM_SERVICE,   /* service names */
    TEAMS_SYM_POLICY,    /* escalation policy names */
    TEAMS_SYM_SVC_KEY,   /* service integration keys */
    TEAMS_SYM_HEARTBEAT, /* heartbeat names */
    TEAMS_SYM_HB_KEY,    /* heartbeat keys */
    TEAMS_SYM_SCHEDULE,  /* schedule names */
    TEAMS_SYM_HOST_GROUP /* host group names */
};

/* A named object of some team file, in a table sorted by name. */
struct teams_sym {
    const char *name;
    const char *team;
    const struct cfgfile *file;
    unsigned index; /* in its file's list */
    size_t order;   /* position in load order, so that "first" is stable */
};

static const struct raw_team_file *teams_raw(const struct cfgfile *f)
{
    return f->raw;
}

void teams_check_name(struct cfgctx *c, const struct cfgfile *f, const char *what, const char *list,
                      unsigned i, const char *name)
{
    char path[64];

    if (value_is_name(name))
        return;
    snprintf(path, sizeof(path), "%s.%u.name", list, i);
    diag_report(c, f, path,
                "%s name '%s' is invalid (use 1 to 63 of a-z, 0-9, '.', '_', '-', starting "
                "with a letter or digit)",
                what, name);
}

/* An object may name its team, but only the team whose directory holds it. */
void teams_check_owner(struct cfgctx *c, const struct cfgfile *f, const char *what,
                       const char *list, unsigned i, const char *name, const char *team)
{
    char path[64];

    if (team == NULL || f->team == NULL || strcmp(team, f->team) == 0)
        return;
    snprintf(path, sizeof(path), "%s.%u.team", list, i);
    diag_report(c, f, path, "%s '%s' declares team '%s' but %s may define only team '%s' objects",
                what, name, team, f->team_dir != NULL ? f->team_dir : "this directory", f->team);
}

static void teams_check_step(struct cfgctx *c, const struct cfgfile *f, unsigned pi,
                             const struct raw_policy *p, unsigned si)
{
    const struct raw_step *s = &p->steps[si];
    char path[128];
    uint32_t delay;

    snprintf(path, sizeof(path), "escalation_policies.%u.steps.%u.delay", pi, si);
    if (config_parse_duration(s->delay, &delay) != 0)
        diag_report(c, f, path,
                    "escalation policy '%s' step %u has invalid delay '%s' (use a duration such "
                    "as 90s, 5m or 1h30m)",
                    p->name, si + 1, s->delay);
    else if (delay == 0 || delay > TEAMS_DELAY_MAX)
        diag_report(c, f, path, "escalation policy '%s' step %u has delay '%s' outside 1s to 7d",
                    p->name, si + 1, s->delay);
    if (s->targets == NULL || s->targets->user_count + s->targets->schedule_count == 0) {
        snprintf(path, sizeof(path), "escalation_policies.%u.steps.%u.targets", pi, si);
        diag_report(c, f, path, "escalation policy '%s' step %u has no targets", p->name, si + 1);
        return;
    }
}

static void teams_check_policy(struct cfgctx *c, const struct cfgfile *f, unsigned i)
{
    const struct raw_policy *p = &teams_raw(f)->policies[i];
    char path[64];
    uint64_t repeat;

    teams_check_name(c, f, "escalation policy", "escalation_policies", i, p->name);
    teams_check_owner(c, f, "escalation policy", "escalation_policies", i, p->name, p->team);
    if (p->repeat != NULL && value_parse_uint(p->repeat, 0, TEAMS_REPEAT_MAX, &repeat) != 0) {
        snprintf(path, sizeof(path), "escalation_policies.%u.repeat", i);
        diag_report(c, f, path, "escalation policy '%s' has repeat '%s' (expected 0 to %d)",
                    p->name, p->repeat, TEAMS_REPEAT_MAX);
    }
    if (p->step_count == 0) {
        snprintf(path, sizeof(path), "escalation_policies.%u.steps", i);
        diag_report(c, f, path, "escalation policy '%s' has no steps", p->name);
    }
    for (unsigned s = 0; s < p->step_count; s++)
        teams_check_step(c, f, i, p, s);
}

/* Whitespace only (or nothing). */
static int teams_is_blank(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    }
    return 1;
}

/*
 * Each entry of a match: list must parse; a bad one is reported at its
 * entry (prefix "services.3.match" or "team.match") with matcher_parse's
 * reason.
 */
static void teams_check_matchers(struct cfgctx *c, const struct cfgfile *f, const char *what,
                                 const char *name, const char *prefix, char *const *items,
                                 unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        struct matcher m;
        struct ob_error err;
        char path[96];
        int rc;

        memset(&m, 0, sizeof(m));
        ob_error_clear(&err);
        rc = matcher_parse(items[k], &m, &err);
        if (rc == 0) {
            matcher_release(&m);
            continue;
        }
        if (rc == OB_ENOMEM) {
            c->oom = 1;
            return;
        }
        snprintf(path, sizeof(path), "%s.%u", prefix, k);
        diag_report(c, f, path, "%s '%s' has an invalid matcher: %s", what, name,
                    err.msg[0] != '\0' ? err.msg : "cannot parse it");
    }
}

/* Label names, each at most once. */
static void teams_check_dedup_labels(struct cfgctx *c, const struct cfgfile *f, unsigned i,
                                     const struct raw_service *s)
{
    for (unsigned k = 0; k < s->dedup_label_count; k++) {
        const char *label = s->dedup_labels[k];
        char path[96], first_path[96], where[512];
        unsigned first = k;

        snprintf(path, sizeof(path), "services.%u.dedup_labels.%u", i, k);
        if (!value_is_label_name(label)) {
            diag_report(c, f, path,
                        "service '%s' has invalid dedup label '%s' (use a label name: a letter "
                        "or '_', then letters, digits or '_', at most %d)",
                        s->name, label, ALERT_LABEL_NAME_MAX);
            continue;
        }
        for (unsigned j = 0; j < k && first == k; j++) {
            if (strcmp(s->dedup_labels[j], label) == 0)
                first = j;
        }
        if (first == k)
            continue;
        snprintf(first_path, sizeof(first_path), "services.%u.dedup_labels.%u", i, first);
        diag_where(f, first_path, 0, where, sizeof(where));
        diag_report(c, f, path, "service '%s' lists dedup label '%s' twice (first at %s)", s->name,
                    label, where);
    }
}

static void teams_check_service(struct cfgctx *c, const struct cfgfile *f, unsigned i)
{
    const struct raw_service *s = &teams_raw(f)->services[i];
    char path[64];
    int flag;

    teams_check_name(c, f, "service", "services", i, s->name);
    teams_check_owner(c, f, "service", "services", i, s->name, s->team);
    if (s->escalation_policy[0] == '\0') {
        snprintf(path, sizeof(path), "services.%u.escalation_policy", i);
        diag_report(c, f, path, "service '%s' has an empty escalation_policy", s->name);
    }
    /* The key goes into URLs (/api/v1/integrations/alertmanager/KEY) and
     * works as a credential: check its shape, never print it. */
    if (s->integration_key != NULL && !value_is_token(s->integration_key, 8, 128)) {
        snprintf(path, sizeof(path), "services.%u.integration_key", i);
        diag_report(c, f, path,
                    "service '%s' has an invalid integration_key (use 8 to 128 of A-Z, a-z, "
                    "0-9, '.', '_', '~', '-')",
                    s->name);
    }
    snprintf(path, sizeof(path), "services.%u.match", i);
    teams_check_matchers(c, f, "service", s->name, path, s->match, s->match_count);
    teams_check_dedup_labels(c, f, i, s);
    if (s->auto_resolve != NULL && value_parse_bool(s->auto_resolve, &flag) != 0) {
        snprintf(path, sizeof(path), "services.%u.auto_resolve", i);
        diag_report(c, f, path, "service '%s' has auto_resolve '%s' (expected true or false)",
                    s->name, s->auto_resolve);
    }
}

/* The team: section's own values (members are checked against users.yaml later). */
static void teams_check_section(struct cfgctx *c, const struct cfgfile *f)
{
    const struct raw_team *t = teams_raw(f)->team;
    const char *team = f->team != NULL ? f->team : "?";

    if (t == NULL)
        return;
    teams_check_matchers(c, f, "team", team, "team.match", t->match, t->match_count);
    if (t->fallback_service != NULL && t->fallback_service[0] == '\0')
        diag_report(c, f, "team.fallback_service", "team '%s' has an empty fallback_service", team);
}

/* A duration field of a heartbeat, in [min, max] seconds. */
static void teams_check_hb_duration(struct cfgctx *c, const struct cfgfile *f, unsigned i,
                                    const char *hb, const char *field, const char *text,
                                    uint32_t min, uint32_t max, const char *range)
{
    char path[64];
    uint32_t seconds;

    if (text == NULL)
        return;
    snprintf(path, sizeof(path), "heartbeats.%u.%s", i, field);
    if (config_parse_duration(text, &seconds) != 0)
        diag_report(c, f, path,
                    "heartbeat '%s' has invalid %s '%s' (use a duration such as 90s, 5m or "
                    "1h30m)",
                    hb, field, text);
    else if (seconds < min || seconds > max)
        diag_report(c, f, path, "heartbeat '%s' has %s '%s' outside %s", hb, field, text, range);
}

static void teams_check_heartbeat(struct cfgctx *c, const struct cfgfile *f, unsigned i)
{
    const struct raw_heartbeat *h = &teams_raw(f)->heartbeats[i];
    char path[64];

    teams_check_name(c, f, "heartbeat", "heartbeats", i, h->name);
    teams_check_owner(c, f, "heartbeat", "heartbeats", i, h->name, h->team);
    if (h->service[0] == '\0') {
        snprintf(path, sizeof(path), "heartbeats.%u.service", i);
        diag_report(c, f, path, "heartbeat '%s' has an empty service", h->name);
    }
    teams_check_hb_duration(c, f, i, h->name, "interval", h->interval, TEAMS_HB_INTERVAL_MIN,
                            TEAMS_HB_INTERVAL_MAX, "10s to 30d");
    teams_check_hb_duration(c, f, i, h->name, "grace", h->grace, 0, TEAMS_HB_GRACE_MAX, "0s to 1d");
    /* The key is the credential in /api/v1/heartbeats/KEY: never print it. */
    if (!value_is_token(h->key, 8, 128)) {
        snprintf(path, sizeof(path), "heartbeats.%u.key", i);
        diag_report(c, f, path,
                    "heartbeat '%s' has an invalid key (use 8 to 128 of A-Z, a-z, 0-9, '.', "
                    "'_', '~', '-')",
                    h->name);
    }
    if (h->summary != NULL) {
        snprintf(path, sizeof(path), "heartbeats.%u.summary", i);
        if (teams_is_blank(h->summary))
            diag_report(c, f, path, "heartbeat '%s' has an empty summary", h->name);
        else if (strlen(h->summary) > ALERT_SUMMARY_MAX)
            diag_report(c, f, path, "heartbeat '%s' has a summary longer than %d bytes", h->name,
                        ALERT_SUMMARY_MAX);
    }
    if (h->severity != NULL && value_severity_name(h->severity) == NULL) {
        snprintf(path, sizeof(path), "heartbeats.%u.severity", i);
        diag_report(c, f, path,
                    "heartbeat '%s' has severity '%s' (expected one of critical, error, "
                    "warning, info)",
                    h->name, h->severity);
    }
}

/* ---- schedules ---- */

#define TEAMS_TZ_HINT "use an IANA name such as Europe/Berlin"

static int teams_tz_ok(const char *tz)
{
    return value_time_zone_exists(tz) && oncall_time_zone_known(tz);
}

static void teams_check_restriction(struct cfgctx *c, const struct cfgfile *f, const char *lpath,
                                    const char *sched, const char *layer, unsigned r,
                                    const struct raw_restriction *res)
{
    char path[192];
    uint32_t seconds;
    uint8_t bit;

    for (unsigned d = 0; d < res->day_count; d++) {
        if (value_parse_weekday(res->days[d], &bit) == 0)
            continue;
        snprintf(path, sizeof(path), "%s.restrictions.%u.days.%u", lpath, r, d);
        diag_report(c, f, path,
                    "schedule '%s' layer '%s' restriction %u has unknown day '%s' (expected mon, "
                    "tue, wed, thu, fri, sat or sun)",
                    sched, layer, r + 1, res->days[d]);
    }
    if (value_parse_clock(res->from, &seconds) != 0) {
        snprintf(path, sizeof(path), "%s.restrictions.%u.from", lpath, r);
        diag_report(c, f, path,
                    "schedule '%s' layer '%s' restriction %u has invalid from '%s' (use a local "
                    "time HH:MM)",
                    sched, layer, r + 1, res->from);
    }
    if (value_parse_clock(res->to, &seconds) != 0) {
        snprintf(path, sizeof(path), "%s.restrictions.%u.to", lpath, r);
        diag_report(c, f, path,
                    "schedule '%s' layer '%s' restriction %u has invalid to '%s' (use a local "
                    "time HH:MM)",
                    sched, layer, r + 1, res->to);
    }
}

/* sched_tz: the schedule's zone when it is valid, else NULL. */
static void teams_check_layer(struct cfgctx *c, const struct cfgfile *f, unsigned si,
                              const struct raw_schedule *s, unsigned li, const char *sched_tz)
{
    const struct raw_layer *l = &s->layers[li];
    const char *tz = sched_tz;
    char lpath[96], path[160], where[512];
    uint32_t handoff = 0;
    int ok = 1;

    snprintf(lpath, sizeof(lpath), "schedules.%u.layers.%u", si, li);
    snprintf(path, sizeof(path), "%s.name", lpath);
    if (!value_is_name(l->name))
        diag_report(c, f, path,
                    "schedule '%s' layer name '%s' is invalid (use 1 to 63 of a-z, 0-9, '.', "
                    "'_', '-', starting with a letter or digit)",
                    s->name, l->name);
    for (unsigned k = 0; k < li; k++) {
        char first[160];
        if (strcmp(s->layers[k].name, l->name) != 0)
            continue;
        snprintf(first, sizeof(first), "schedules.%u.layers.%u.name", si, k);
        diag_where(f, first, 0, where, sizeof(where));
        diag_report(c, f, path, "duplicate layer name '%s' in schedule '%s' (first defined at %s)",
                    l->name, s->name, where);
        break;
    }
    if (l->time_zone != NULL) {
        tz = l->time_zone;
        if (!teams_tz_ok(l->time_zone)) {
            snprintf(path, sizeof(path), "%s.time_zone", lpath);
            diag_report(c, f, path, "schedule '%s' layer '%s' has unknown time zone '%s' (%s)",
                        s->name, l->name, l->time_zone, TEAMS_TZ_HINT);
            tz = NULL;
        }
    }
    if (!value_is_date(l->start)) {
        snprintf(path, sizeof(path), "%s.start", lpath);
        diag_report(c, f, path,
                    "schedule '%s' layer '%s' has invalid start '%s' (use the date of the first "
                    "handoff, YYYY-MM-DD)",
                    s->name, l->name, l->start);
        ok = 0;
    }
    if (l->handoff != NULL && value_parse_clock(l->handoff, &handoff) != 0) {
        snprintf(path, sizeof(path), "%s.handoff", lpath);
        diag_report(c, f, path,
                    "schedule '%s' layer '%s' has invalid handoff '%s' (use a local time HH:MM)",
                    s->name, l->name, l->handoff);
        ok = 0;
    }
    if (l->user_count == 0) {
        snprintf(path, sizeof(path), "%s.users", lpath);
        diag_report(c, f, path,
                    "schedule '%s' layer '%s' has an empty rotation (list at least one user)",
                    s->name, l->name);
    }
    for (unsigned r = 0; r < l->restriction_count; r++)
        teams_check_restriction(c, f, lpath, s->name, l->name, r, &l->restrictions[r]);
    /* The rule is compiled now, so that libical's refusal stops the load. */
    if (ok && tz != NULL) {
        struct rotation *rot = NULL;
        struct ob_error err;
        int rc;

        ob_error_clear(&err);
        rc = rotation_compile(l->rrule, l->start, handoff, tz, &rot, &err);
        rotation_free(rot);
        if (rc == OB_ENOMEM) {
            c->oom = 1;
        } else if (rc != 0) {
            snprintf(path, sizeof(path), "%s.rrule", lpath);
            diag_report(c, f, path, "schedule '%s' layer '%s' has an invalid rrule: %s", s->name,
                        l->name, err.msg);
        }
    }
}

static void teams_check_schedule(struct cfgctx *c, const struct cfgfile *f, unsigned i)
{
    const struct raw_schedule *s = &teams_raw(f)->schedules[i];
    const char *tz = s->time_zone != NULL ? s->time_zone : "UTC";
    char path[64];

    teams_check_name(c, f, "schedule", "schedules", i, s->name);
    teams_check_owner(c, f, "schedule", "schedules", i, s->name, s->team);
    if (s->time_zone != NULL && !teams_tz_ok(s->time_zone)) {
        snprintf(path, sizeof(path), "schedules.%u.time_zone", i);
        diag_report(c, f, path, "schedule '%s' has unknown time zone '%s' (%s)", s->name,
                    s->time_zone, TEAMS_TZ_HINT);
        tz = NULL;
    }
    if (s->layer_count == 0) {
        snprintf(path, sizeof(path), "schedules.%u.layers", i);
        diag_report(c, f, path, "schedule '%s' has no layers", s->name);
    }
    for (unsigned l = 0; l < s->layer_count; l++)
        teams_check_layer(c, f, i, s, l, tz);
}

void teams_check_file(struct cfgctx *c, const struct cfgfile *f)
{
    const struct raw_team_file *raw = teams_raw(f);

    teams_check_section(c, f);
    for (unsigned i = 0; i < raw->service_count; i++)
        teams_check_service(c, f, i);
    for (unsigned i = 0; i < raw->policy_count; i++)
        teams_check_policy(c, f, i);
    for (unsigned i = 0; i < raw->heartbeat_count; i++)
        teams_check_heartbeat(c, f, i);
    for (unsigned i = 0; i < raw->schedule_count; i++)
        teams_check_schedule(c, f, i);
    access_check_file(c, f);
}

/* ---- across files ---- */

static int teams_sym_cmp(const void *a, const void *b)
{
    const struct teams_sym *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int teams_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Report every entry equal to the one before it in a sorted table. */
static void teams_report_duplicates(struct cfgctx *c, const struct teams_sym *syms, size_t n,
                                    const char *list, const char *field, const char *fmt_what)
{
    size_t first = 0;

    for (size_t i = 1; i < n; i++) {
        char path[96], where[512];
        if (strcmp(syms[i].name, syms[first].name) != 0) {
            first = i;
            continue;
        }
        snprintf(path, sizeof(path), "%s.%u.%s", list, syms[first].index, field);
        diag_where(syms[first].file, path, 0, where, sizeof(where));
        snprintf(path, sizeof(path), "%s.%u.%s", list, syms[i].index, field);
        if (strcmp(field, "name") == 0) {
            diag_report(c, syms[i].file, path, "duplicate %s name '%s' (first defined at %s)",
                        fmt_what, syms[i].name, where);
        } else {
            const struct raw_team_file *a = teams_raw(syms[i].file);
            const struct raw_team_file *b = teams_raw(syms[first].file);
            diag_report(c, syms[i].file, path,
                        "service '%s' has the same integration_key as service '%s' at %s",
                        a->services[syms[i].index].name, b->services[syms[first].index].name,
                        where);
        }
    }
}

/* How many objects of kind a file defines, and the name (or key) of one. */
static unsigned teams_sym_count(const struct raw_team_file *raw, enum teams_sym_kind kind)
{
    switch (kind) {
    case TEAMS_SYM_POLICY:
        return raw->policy_count;
    case TEAMS_SYM_HEARTBEAT:
    case TEAMS_SYM_HB_KEY:
        return raw->heartbeat_count;
    case TEAMS_SYM_SCHEDULE:
        return raw->schedule_count;
    case TEAMS_SYM_HOST_GROUP:
        return raw->host_group_count;
    case TEAMS_SYM_SERVICE:
    case TEAMS_SYM_SVC_KEY:
    default:
        return raw->service_count;
    }
}

static const char *teams_sym_text(const struct raw_team_file *raw, enum teams_sym_kind kind,
                                  unsigned j)
{
    switch (kind) {
    case TEAMS_SYM_POLICY:
        return raw->policies[j].name;
    case TEAMS_SYM_SVC_KEY:
        return raw->services[j].integration_key;
    case TEAMS_SYM_HEARTBEAT:
        return raw->heartbeats[j].name;
    case TEAMS_SYM_HB_KEY:
        return raw->heartbeats[j].key;
    case TEAMS_SYM_SCHEDULE:
        return raw->schedules[j].name;
    case TEAMS_SYM_HOST_GROUP:
        return raw->host_groups[j].name;
    case TEAMS_SYM_SERVICE:
    default:
        return raw->services[j].name;
    }
}

/* All objects of one kind (by name or by key), sorted; absent keys are left out. */
static struct teams_sym *teams_symbols(struct cfgctx *c, struct cfgfile *const *files,
                                       unsigned nfiles, enum teams_sym_kind kind, size_t *count)
{
    size_t n = 0, k = 0;
    struct teams_sym *syms;

    for (unsigned i = 0; i < nfiles; i++)
        n += teams_sym_count(teams_raw(files[i]), kind);
    *count = 0;
    syms = calloc(n > 0 ? n : 1, sizeof(*syms));
    if (syms == NULL) {
        c->oom = 1;
        return NULL;
    }
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = teams_raw(files[i]);
        unsigned m = teams_sym_count(raw, kind);
        for (unsigned j = 0; j < m; j++) {
            const char *name = teams_sym_text(raw, kind, j);
            if (name == NULL)
                continue;
            syms[k] = (struct teams_sym){name, files[i]->team, files[i], j, k};
            k++;
        }
    }
    qsort(syms, k, sizeof(*syms), teams_sym_cmp);
    *count = k;
    return syms;
}

/* The object of that name: in team if there is one of that name there. */
static const struct teams_sym *teams_find(const struct teams_sym *syms, size_t n, const char *name,
                                          const char *team)
{
    size_t lo = 0, hi = n;
    const struct teams_sym *found = NULL;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(syms[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && strcmp(syms[i].name, name) == 0; i++) {
        if (found == NULL)
            found = &syms[i];
        if (team != NULL && syms[i].team != NULL && strcmp(syms[i].team, team) == 0)
            return &syms[i];
    }
    return found;
}

static void teams_check_policy_refs(struct cfgctx *c, struct cfgfile *const *files, unsigned nfiles,
                                    const struct teams_sym *policies, size_t npolicies)
{
    for (unsigned i = 0; i < nfiles; i++) {
        const struct cfgfile *f = files[i];
        const struct raw_team_file *raw = teams_raw(f);
        for (unsigned j = 0; j < raw->service_count; j++) {
            const struct raw_service *s = &raw->services[j];
            const struct teams_sym *p;
            char path[64];
            if (s->escalation_policy[0] == '\0')
                continue;
            snprintf(path, sizeof(path), "services.%u.escalation_policy", j);
            p = teams_find(policies, npolicies, s->escalation_policy, f->team);
            if (p == NULL)
                diag_report(c, f, path, "service '%s' names unknown escalation policy '%s'",
                            s->name, s->escalation_policy);
            else if (f->team != NULL && p->team != NULL && strcmp(p->team, f->team) != 0)
                diag_report(c, f, path,
                            "service '%s' names escalation policy '%s' of team '%s'; a service "
                            "may use only policies of its own team '%s'",
                            s->name, s->escalation_policy, p->team, f->team);
        }
    }
}

/*
 * A reference from f to a service by name (a heartbeat's service, a team's
 * fallback_service): it must exist, in f's team.  who starts the messages
 * ("heartbeat 'db-backup' names ...", "team 'ops' names ..."), rule ends
 * the one about another team's service.
 */
static void teams_check_service_ref(struct cfgctx *c, const struct cfgfile *f, const char *path,
                                    const char *who, const char *field, const char *rule,
                                    const char *name, const struct teams_sym *services,
                                    size_t nservices)
{
    const struct teams_sym *s;

    if (name == NULL || name[0] == '\0')
        return; /* absent, or reported as empty already */
    s = teams_find(services, nservices, name, f->team);
    if (s == NULL)
        diag_report(c, f, path, "%s names unknown %s '%s'", who, field, name);
    else if (f->team != NULL && s->team != NULL && strcmp(s->team, f->team) != 0)
        diag_report(c, f, path, "%s names %s '%s' of team '%s'; %s of its own team '%s'", who,
                    field, name, s->team, rule, f->team);
}

static void teams_check_service_refs(struct cfgctx *c, struct cfgfile *const *files,
                                     unsigned nfiles, const struct teams_sym *services,
                                     size_t nservices)
{
    for (unsigned i = 0; i < nfiles; i++) {
        const struct cfgfile *f = files[i];
        const struct raw_team_file *raw = teams_raw(f);
        char who[128], path[64];

        if (raw->team != NULL) {
            snprintf(who, sizeof(who), "team '%s'", f->team != NULL ? f->team : "?");
            teams_check_service_ref(c, f, "team.fallback_service", who, "fallback_service",
                                    "a team's fallback_service must be a service",
                                    raw->team->fallback_service, services, nservices);
        }
        for (unsigned j = 0; j < raw->heartbeat_count; j++) {
            const struct raw_heartbeat *h = &raw->heartbeats[j];
            snprintf(who, sizeof(who), "heartbeat '%s'", h->name);
            snprintf(path, sizeof(path), "heartbeats.%u.service", j);
            teams_check_service_ref(c, f, path, who, "service", "a heartbeat may use only services",
                                    h->service, services, nservices);
        }
    }
}

/* Escalation steps may name any team's schedule (names are global). */
static void teams_check_schedule_refs(struct cfgctx *c, struct cfgfile *const *files,
                                      unsigned nfiles, const struct teams_sym *schedules,
                                      size_t nschedules)
{
    for (unsigned i = 0; i < nfiles; i++) {
        const struct cfgfile *f = files[i];
        const struct raw_team_file *raw = teams_raw(f);
        for (unsigned p = 0; p < raw->policy_count; p++) {
            const struct raw_policy *pol = &raw->policies[p];
            for (unsigned s = 0; s < pol->step_count; s++) {
                const struct raw_targets *t = pol->steps[s].targets;
                for (unsigned k = 0; t != NULL && k < t->schedule_count; k++) {
                    char path[128];
                    if (teams_find(schedules, nschedules, t->schedules[k], NULL) != NULL)
                        continue;
                    snprintf(path, sizeof(path),
                             "escalation_policies.%u.steps.%u.targets.schedules.%u", p, s, k);
                    diag_report(c, f, path,
                                "escalation policy '%s' step %u names unknown schedule '%s'",
                                pol->name, s + 1, t->schedules[k]);
                }
            }
        }
    }
}

/*
 * Heartbeat keys are unique among heartbeats and differ from every
 * integration key (both are looked up by the key alone).  A clash is
 * reported at the heartbeat's key, naming the other object's position,
 * never the key.
 */
static void teams_check_heartbeat_keys(struct cfgctx *c, const struct teams_sym *hb_keys,
                                       size_t nhb_keys, const struct teams_sym *svc_keys,
                                       size_t nsvc_keys)
{
    size_t first = 0;

    for (size_t i = 0; i < nhb_keys; i++) {
        const struct teams_sym *k = &hb_keys[i];
        const struct raw_heartbeat *h = &teams_raw(k->file)->heartbeats[k->index];
        const struct teams_sym *svc;
        char path[64], other[64], where[512];

        snprintf(path, sizeof(path), "heartbeats.%u.key", k->index);
        if (i > 0 && strcmp(k->name, hb_keys[first].name) == 0) {
            const struct teams_sym *f0 = &hb_keys[first];
            snprintf(other, sizeof(other), "heartbeats.%u.key", f0->index);
            diag_where(f0->file, other, 0, where, sizeof(where));
            diag_report(c, k->file, path, "heartbeat '%s' has the same key as heartbeat '%s' at %s",
                        h->name, teams_raw(f0->file)->heartbeats[f0->index].name, where);
            continue;
        }
        first = i;
        svc = teams_find(svc_keys, nsvc_keys, k->name, NULL);
        if (svc == NULL)
            continue;
        snprintf(other, sizeof(other), "services.%u.integration_key", svc->index);
        diag_where(svc->file, other, 0, where, sizeof(where));
        diag_report(c, k->file, path,
                    "heartbeat '%s' has the same key as the integration_key of service '%s' at %s",
                    h->name, teams_raw(svc->file)->services[svc->index].name, where);
    }
}

static int teams_user_exists(const char **names, size_t n, const char *name)
{
    return bsearch(&name, names, n, sizeof(*names), teams_str_cmp) != NULL;
}

static void teams_check_user_refs(struct cfgctx *c, struct cfgfile *const *files, unsigned nfiles,
                                  const struct config *users)
{
    const char **names = calloc(users->user_count > 0 ? users->user_count : 1, sizeof(*names));

    if (names == NULL) {
        c->oom = 1;
        return;
    }
    for (unsigned i = 0; i < users->user_count; i++)
        names[i] = users->users[i].name != NULL ? users->users[i].name : "";
    qsort(names, users->user_count, sizeof(*names), teams_str_cmp);
    for (unsigned i = 0; i < nfiles; i++) {
        const struct cfgfile *f = files[i];
        const struct raw_team_file *raw = teams_raw(f);
        char path[128];
        for (unsigned m = 0; raw->team != NULL && m < raw->team->member_count; m++) {
            if (teams_user_exists(names, users->user_count, raw->team->members[m]))
                continue;
            snprintf(path, sizeof(path), "team.members.%u", m);
            diag_report(c, f, path, "team '%s' lists unknown user '%s' as a member",
                        f->team != NULL ? f->team : "?", raw->team->members[m]);
        }
        for (unsigned p = 0; p < raw->policy_count; p++) {
            const struct raw_policy *pol = &raw->policies[p];
            for (unsigned s = 0; s < pol->step_count; s++) {
                const struct raw_targets *t = pol->steps[s].targets;
                for (unsigned u = 0; t != NULL && u < t->user_count; u++) {
                    if (teams_user_exists(names, users->user_count, t->users[u]))
                        continue;
                    snprintf(path, sizeof(path), "escalation_policies.%u.steps.%u.targets.users.%u",
                             p, s, u);
                    diag_report(c, f, path,
                                "escalation policy '%s' step %u names unknown user '%s'", pol->name,
                                s + 1, t->users[u]);
                }
            }
        }
        for (unsigned si = 0; si < raw->schedule_count; si++) {
            const struct raw_schedule *sch = &raw->schedules[si];
            for (unsigned l = 0; l < sch->layer_count; l++) {
                const struct raw_layer *layer = &sch->layers[l];
                for (unsigned u = 0; u < layer->user_count; u++) {
                    if (teams_user_exists(names, users->user_count, layer->users[u]))
                        continue;
                    snprintf(path, sizeof(path), "schedules.%u.layers.%u.users.%u", si, l, u);
                    diag_report(c, f, path, "schedule '%s' layer '%s' names unknown user '%s'",
                                sch->name, layer->name, layer->users[u]);
                }
            }
        }
        access_check_user_refs(c, f, names, users->user_count);
    }
    free(names);
}

/* A team's description, members and channel are given once, in any of its files. */
static void teams_check_sections(struct cfgctx *c, struct cfgfile *const *files, unsigned nfiles)
{
    for (unsigned i = 0; i < nfiles; i++) {
        if (teams_raw(files[i])->team == NULL || files[i]->team == NULL)
            continue;
        for (unsigned j = 0; j < i; j++) {
            char where[512];
            if (teams_raw(files[j])->team == NULL || files[j]->team == NULL ||
                strcmp(files[j]->team, files[i]->team) != 0)
                continue;
            diag_where(files[j], "team", 1, where, sizeof(where));
            diag_report_key(c, files[i], "team",
                            "team '%s' is described twice; keep one team: section (the other "
                            "is at %s)",
                            files[i]->team, where);
            break;
        }
    }
}

/* Report the first object past a cap on the whole configuration. */
static void teams_check_total(struct cfgctx *c, const struct teams_sym *syms, size_t n, size_t max,
                              const char *list, const char *what)
{
    const struct teams_sym *past = NULL;
    char path[64];

    if (n <= max)
        return;
    for (size_t i = 0; i < n; i++) {
        if (syms[i].order == max)
            past = &syms[i];
    }
    if (past == NULL)
        return;
    snprintf(path, sizeof(path), "%s.%u", list, past->index);
    diag_report(c, past->file, path, "more than %zu %s in all teams", max, what);
}

void teams_check_cross(struct cfgctx *c, struct cfgfile *const *files, unsigned nfiles,
                       int all_files, const struct config *users)
{
    struct teams_sym *services = NULL, *policies = NULL, *keys = NULL;
    struct teams_sym *heartbeats = NULL, *hb_keys = NULL, *schedules = NULL, *groups = NULL;
    size_t nservices = 0, npolicies = 0, nkeys = 0, nheartbeats = 0, nhb_keys = 0, nschedules = 0;
    size_t ngroups = 0;

    teams_check_sections(c, files, nfiles);
    services = teams_symbols(c, files, nfiles, TEAMS_SYM_SERVICE, &nservices);
    policies = teams_symbols(c, files, nfiles, TEAMS_SYM_POLICY, &npolicies);
    keys = teams_symbols(c, files, nfiles, TEAMS_SYM_SVC_KEY, &nkeys);
    heartbeats = teams_symbols(c, files, nfiles, TEAMS_SYM_HEARTBEAT, &nheartbeats);
    hb_keys = teams_symbols(c, files, nfiles, TEAMS_SYM_HB_KEY, &nhb_keys);
    schedules = teams_symbols(c, files, nfiles, TEAMS_SYM_SCHEDULE, &nschedules);
    groups = teams_symbols(c, files, nfiles, TEAMS_SYM_HOST_GROUP, &ngroups);
    if (services == NULL || policies == NULL || keys == NULL || heartbeats == NULL ||
        hb_keys == NULL || schedules == NULL || groups == NULL)
        goto out;
    teams_check_total(c, groups, ngroups, CONFIG_MAX_HOST_GROUPS, "host_groups", "host groups");
    teams_report_duplicates(c, groups, ngroups, "host_groups", "name", "host group");
    teams_check_total(c, schedules, nschedules, CONFIG_MAX_SCHEDULES, "schedules", "schedules");
    teams_report_duplicates(c, schedules, nschedules, "schedules", "name", "schedule");
    teams_check_total(c, services, nservices, CONFIG_MAX_SERVICES, "services", "services");
    teams_check_total(c, policies, npolicies, CONFIG_MAX_POLICIES, "escalation_policies",
                      "escalation policies");
    teams_check_total(c, heartbeats, nheartbeats, CONFIG_MAX_HEARTBEATS, "heartbeats",
                      "heartbeats");
    teams_report_duplicates(c, services, nservices, "services", "name", "service");
    teams_report_duplicates(c, policies, npolicies, "escalation_policies", "name",
                            "escalation policy");
    teams_report_duplicates(c, keys, nkeys, "services", "integration_key", "service");
    teams_report_duplicates(c, heartbeats, nheartbeats, "heartbeats", "name", "heartbeat");
    teams_check_heartbeat_keys(c, hb_keys, nhb_keys, keys, nkeys);
    if (all_files) {
        teams_check_policy_refs(c, files, nfiles, policies, npolicies);
        teams_check_service_refs(c, files, nfiles, services, nservices);
        teams_check_schedule_refs(c, files, nfiles, schedules, nschedules);
    }
    if (users != NULL)
        teams_check_user_refs(c, files, nfiles, users);
out:
    free(services);
    free(policies);
    free(keys);
    free(heartbeats);
    free(hb_keys);
    free(schedules);
    free(groups);
}

/* ---- building the model ---- */

static int teams_dup(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    *out = strdup(s);
    return *out == NULL ? OB_ENOMEM : 0;
}

static int teams_dup_list(char *const *list, unsigned n, char ***out, unsigned *count)
{
    *out = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    *out = calloc(n, sizeof(**out));
    if (*out == NULL)
        return OB_ENOMEM;
    *count = n;
    for (unsigned i = 0; i < n; i++) {
        if (teams_dup(list[i], &(*out)[i]) != 0)
            return OB_ENOMEM;
    }
    return 0;
}

static int teams_build_policy(const struct raw_policy *raw, const struct config_team *team,
                              struct config_escalation_policy *out)
{
    uint64_t repeat = 0;

    out->team = team;
    if (teams_dup(raw->name, &out->name) != 0 ||
        teams_dup(raw->description != NULL ? raw->description : "", &out->description) != 0)
        return OB_ENOMEM;
    if (raw->repeat != NULL && value_parse_uint(raw->repeat, 0, TEAMS_REPEAT_MAX, &repeat) != 0)
        return OB_EINTERNAL; /* the checks let it through: a bug */
    out->repeat = (uint32_t)repeat;
    out->steps = calloc(raw->step_count > 0 ? raw->step_count : 1, sizeof(*out->steps));
    if (out->steps == NULL)
        return OB_ENOMEM;
    out->step_count = raw->step_count;
    for (unsigned i = 0; i < raw->step_count; i++) {
        const struct raw_step *rs = &raw->steps[i];
        struct config_escalation_step *s = &out->steps[i];
        if (config_parse_duration(rs->delay, &s->delay_seconds) != 0)
            return OB_EINTERNAL;
        if (rs->targets == NULL)
            continue;
        if (teams_dup_list(rs->targets->users, rs->targets->user_count, &s->users,
                           &s->user_count) != 0 ||
            teams_dup_list(rs->targets->schedules, rs->targets->schedule_count, &s->schedules,
                           &s->schedule_count) != 0)
            return OB_ENOMEM;
    }
    return 0;
}

/* Parse a match: list that the checks accepted into set. */
static int teams_build_matchers(char *const *items, unsigned n, struct matcher_set *set)
{
    for (unsigned k = 0; k < n; k++) {
        struct matcher m;
        int rc;

        memset(&m, 0, sizeof(m));
        rc = matcher_parse(items[k], &m, NULL);
        if (rc != 0)
            return rc == OB_ENOMEM ? OB_ENOMEM : OB_EINTERNAL;
        rc = matcher_set_add(set, &m, NULL);
        if (rc != 0) {
            matcher_release(&m);
            return rc == OB_ENOMEM ? OB_ENOMEM : OB_EINTERNAL;
        }
    }
    return 0;
}

static int teams_build_service(const struct raw_service *raw, const struct config_team *team,
                               struct config_service *out)
{
    int rc;

    out->team = team;
    out->auto_resolve = 1;
    if (teams_dup(raw->name, &out->name) != 0 ||
        teams_dup(raw->description != NULL ? raw->description : "", &out->description) != 0 ||
        teams_dup(raw->escalation_policy, &out->escalation_policy) != 0 ||
        teams_dup(raw->integration_key, &out->integration_key) != 0 ||
        teams_dup_list(raw->dedup_labels, raw->dedup_label_count, &out->dedup_labels,
                       &out->dedup_label_count) != 0)
        return OB_ENOMEM;
    if (raw->auto_resolve != NULL && value_parse_bool(raw->auto_resolve, &out->auto_resolve) != 0)
        return OB_EINTERNAL;
    rc = teams_build_matchers(raw->match, raw->match_count, &out->match);
    if (rc != 0)
        return rc;
    for (unsigned i = 0; i < team->policy_count; i++) {
        if (strcmp(team->policies[i].name, out->escalation_policy) == 0)
            out->policy = &team->policies[i];
    }
    return out->policy != NULL ? 0 : OB_EINTERNAL;
}

static const struct config_service *teams_team_service(const struct config_team *team,
                                                       const char *name)
{
    for (unsigned i = 0; name != NULL && i < team->service_count; i++) {
        if (strcmp(team->services[i].name, name) == 0)
            return &team->services[i];
    }
    return NULL;
}

/* After the team's services: a heartbeat points at one of them. */
static int teams_build_heartbeat(const struct raw_heartbeat *raw, const struct config_team *team,
                                 struct config_heartbeat *out)
{
    const char *severity =
        raw->severity != NULL ? value_severity_name(raw->severity) : TEAMS_HB_DEFAULT_SEVERITY;

    out->team = team;
    if (teams_dup(raw->name, &out->name) != 0 || teams_dup(raw->service, &out->service_name) != 0 ||
        teams_dup(raw->key, &out->key) != 0 || teams_dup(severity, &out->severity) != 0)
        return OB_ENOMEM;
    if (raw->summary != NULL) {
        if (teams_dup(raw->summary, &out->summary) != 0)
            return OB_ENOMEM;
    } else {
        size_t len = strlen(raw->name) + sizeof("heartbeat '' missed its check-in");
        out->summary = malloc(len);
        if (out->summary == NULL)
            return OB_ENOMEM;
        snprintf(out->summary, len, "heartbeat '%s' missed its check-in", raw->name);
    }
    if (severity == NULL || config_parse_duration(raw->interval, &out->interval_seconds) != 0 ||
        (raw->grace != NULL && config_parse_duration(raw->grace, &out->grace_seconds) != 0))
        return OB_EINTERNAL;
    out->service = teams_team_service(team, out->service_name);
    return out->service != NULL ? 0 : OB_EINTERNAL;
}

static int teams_build_layer(const struct raw_layer *raw, const char *sched_tz,
                             struct config_schedule_layer *out)
{
    int rc;

    if (teams_dup(raw->name, &out->name) != 0 ||
        teams_dup(raw->time_zone != NULL ? raw->time_zone : sched_tz, &out->time_zone) != 0 ||
        teams_dup(raw->start, &out->start) != 0 || teams_dup(raw->rrule, &out->rrule) != 0 ||
        teams_dup_list(raw->users, raw->user_count, &out->users, &out->user_count) != 0)
        return OB_ENOMEM;
    if (raw->handoff != NULL && value_parse_clock(raw->handoff, &out->handoff_seconds) != 0)
        return OB_EINTERNAL;
    if (raw->restriction_count > 0) {
        out->restrictions = calloc(raw->restriction_count, sizeof(*out->restrictions));
        if (out->restrictions == NULL)
            return OB_ENOMEM;
        out->restriction_count = raw->restriction_count;
    }
    for (unsigned r = 0; r < raw->restriction_count; r++) {
        const struct raw_restriction *rr = &raw->restrictions[r];
        struct config_restriction *res = &out->restrictions[r];
        res->days = rr->day_count == 0 ? 0x7f : 0;
        for (unsigned d = 0; d < rr->day_count; d++) {
            uint8_t bit;
            if (value_parse_weekday(rr->days[d], &bit) != 0)
                return OB_EINTERNAL;
            res->days |= bit;
        }
        if (value_parse_clock(rr->from, &res->from_seconds) != 0 ||
            value_parse_clock(rr->to, &res->to_seconds) != 0)
            return OB_EINTERNAL;
    }
    rc = rotation_compile(out->rrule, out->start, out->handoff_seconds, out->time_zone,
                          &out->rotation, NULL);
    if (rc != 0)
        return rc == OB_ENOMEM ? OB_ENOMEM : OB_EINTERNAL;
    return 0;
}

static int teams_build_schedule(const struct raw_schedule *raw, const struct config_team *team,
                                struct config_schedule *out)
{
    out->team = team;
    if (teams_dup(raw->name, &out->name) != 0 ||
        teams_dup(raw->description != NULL ? raw->description : "", &out->description) != 0 ||
        teams_dup(raw->time_zone != NULL ? raw->time_zone : "UTC", &out->time_zone) != 0)
        return OB_ENOMEM;
    out->layers = calloc(raw->layer_count > 0 ? raw->layer_count : 1, sizeof(*out->layers));
    if (out->layers == NULL)
        return OB_ENOMEM;
    out->layer_count = raw->layer_count;
    for (unsigned l = 0; l < raw->layer_count; l++) {
        int rc = teams_build_layer(&raw->layers[l], out->time_zone, &out->layers[l]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The team: section (in at most one of the team's files). */
static int teams_build_section(struct config_team *team, const struct raw_team *raw)
{
    int rc = teams_dup(raw->description, &team->description);

    if (rc == 0)
        rc = teams_dup(raw->chat_channel, &team->chat_channel);
    if (rc == 0)
        rc = teams_dup_list(raw->members, raw->member_count, &team->members, &team->member_count);
    if (rc == 0 && team->description == NULL)
        rc = teams_dup("", &team->description);
    if (rc == 0)
        rc = teams_dup(raw->fallback_service, &team->fallback_service_name);
    if (rc == 0)
        rc = teams_build_matchers(raw->match, raw->match_count, &team->match);
    return rc;
}

/* Fill one team from its files (policies first: services point at them;
 * then heartbeats and the fallback service, which point at services). */
static int teams_build_one(struct config_team *team, struct cfgfile *const *files, unsigned nfiles)
{
    unsigned nservices = 0, npolicies = 0, nheartbeats = 0, nschedules = 0;
    unsigned si = 0, pi = 0, hi = 0, ci = 0;
    int section_seen = 0;
    int rc;

    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = teams_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        nservices += raw->service_count;
        npolicies += raw->policy_count;
        nheartbeats += raw->heartbeat_count;
        nschedules += raw->schedule_count;
        if (raw->team != NULL && !section_seen) {
            section_seen = 1;
            rc = teams_build_section(team, raw->team);
            if (rc != 0)
                return rc;
        }
    }
    if (team->description == NULL && teams_dup("", &team->description) != 0)
        return OB_ENOMEM;
    team->services = calloc(nservices > 0 ? nservices : 1, sizeof(*team->services));
    team->policies = calloc(npolicies > 0 ? npolicies : 1, sizeof(*team->policies));
    team->heartbeats = calloc(nheartbeats > 0 ? nheartbeats : 1, sizeof(*team->heartbeats));
    team->schedules = calloc(nschedules > 0 ? nschedules : 1, sizeof(*team->schedules));
    if (team->services == NULL || team->policies == NULL || team->heartbeats == NULL ||
        team->schedules == NULL)
        return OB_ENOMEM;
    team->service_count = nservices;
    team->policy_count = npolicies;
    team->heartbeat_count = nheartbeats;
    team->schedule_count = nschedules;
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = teams_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        for (unsigned j = 0; j < raw->schedule_count; j++) {
            rc = teams_build_schedule(&raw->schedules[j], team, &team->schedules[ci++]);
            if (rc != 0)
                return rc;
        }
    }
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = teams_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        for (unsigned j = 0; j < raw->policy_count; j++) {
            rc = teams_build_policy(&raw->policies[j], team, &team->policies[pi++]);
            if (rc != 0)
                return rc;
        }
    }
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = teams_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        for (unsigned j = 0; j < raw->service_count; j++) {
            rc = teams_build_service(&raw->services[j], team, &team->services[si++]);
            if (rc != 0)
                return rc;
        }
    }
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = teams_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        for (unsigned j = 0; j < raw->heartbeat_count; j++) {
            rc = teams_build_heartbeat(&raw->heartbeats[j], team, &team->heartbeats[hi++]);
            if (rc != 0)
                return rc;
        }
    }
    if (team->fallback_service_name != NULL) {
        team->fallback_service = teams_team_service(team, team->fallback_service_name);
        if (team->fallback_service == NULL)
            return OB_EINTERNAL;
    }
    return access_build_team(team, files, nfiles);
}

/* Point every escalation step at the users and schedules it names. */
static int teams_resolve_steps(struct config *cfg)
{
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned p = 0; p < team->policy_count; p++) {
            const struct config_escalation_policy *pol = &team->policies[p];
            for (unsigned s = 0; s < pol->step_count; s++) {
                struct config_escalation_step *step = &pol->steps[s];
                step->user_refs =
                    calloc(step->user_count > 0 ? step->user_count : 1, sizeof(*step->user_refs));
                step->schedule_refs = calloc(step->schedule_count > 0 ? step->schedule_count : 1,
                                             sizeof(*step->schedule_refs));
                if (step->user_refs == NULL || step->schedule_refs == NULL)
                    return OB_ENOMEM;
                for (unsigned k = 0; k < step->user_count; k++) {
                    step->user_refs[k] = config_find_user(cfg, step->users[k]);
                    if (step->user_refs[k] == NULL)
                        return OB_EINTERNAL;
                }
                for (unsigned k = 0; k < step->schedule_count; k++) {
                    step->schedule_refs[k] = config_find_schedule(cfg, step->schedules[k]);
                    if (step->schedule_refs[k] == NULL)
                        return OB_EINTERNAL;
                }
            }
        }
    }
    return 0;
}

int teams_build(struct config *cfg, char **team_names, unsigned team_count,
                struct cfgfile *const *files, unsigned nfiles)
{
    if (team_count == 0)
        return 0;
    cfg->teams = calloc(team_count, sizeof(*cfg->teams));
    if (cfg->teams == NULL)
        return OB_ENOMEM;
    cfg->team_count = team_count;
    for (unsigned t = 0; t < team_count; t++) {
        int rc = teams_dup(team_names[t], &cfg->teams[t].name);
        if (rc == 0)
            rc = teams_build_one(&cfg->teams[t], files, nfiles);
        if (rc != 0)
            return rc;
    }
    return teams_resolve_steps(cfg);
}
