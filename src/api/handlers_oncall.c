/*
 * handlers_oncall.c - who is on call: schedules (/api/v1/schedules), the
 * answer for an instant (/api/v1/oncall), overrides, and iCalendar feeds
 * (/api/v1/ical-feeds and the token-addressed /ical/{token}.ics).
 *
 * Schedules live in the configuration; what the store adds is overrides
 * and feed tokens.  Every answer applies the overrides of the schedule
 * (oncall/schedule.h computes; this file only loads and presents).  Times
 * in answers are RFC 3339 UTC; times in requests are whatever
 * oncall_parse_time() accepts, local times read in the schedule's zone.
 *
 * A team-limited token sees and changes only its team's schedules; feeds of
 * a user (whose shifts span every team) need a token for every team.
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "oncall/overrides.h"
#include "oncall/schedule.h"
#include "store/oncall.h"
#include "store/store.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ONCALL_DAY_MS          (24LL * 3600 * 1000)
#define ONCALL_DEFAULT_SPAN_MS (7 * ONCALL_DAY_MS)
#define OVERRIDE_MAX_MS        (366 * ONCALL_DAY_MS)
#define OVERRIDE_REASON_MAX    1024
#define ICAL_PREFIX            "obi_"
#define ICAL_SUFFIX            ".ics"

/* ---- presentation helpers --------------------------------------------------------- */

json_t *api_time_json(int64_t ms)
{
    char text[48], frac[8] = "";
    time_t secs;
    struct tm tm;

    /* Year 9999 at most: RFC 3339 has four digits of year. */
    if (ms <= 0 || ms >= 253402300800000LL)
        return json_null();
    secs = (time_t)(ms / 1000);
    if (gmtime_r(&secs, &tm) == NULL)
        return json_null();
    if (ms % 1000 != 0)
        snprintf(frac, sizeof(frac), ".%03d", (int)(ms % 1000));
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return json_string(text);
}

static bool oncall_visible(const struct http_request *req, const char *team)
{
    const struct auth_principal *p = api_principal(req);

    return p == NULL || p->team[0] == '\0' || (team != NULL && strcmp(p->team, team) == 0);
}

static bool oncall_all_teams(const struct http_request *req)
{
    const struct auth_principal *p = api_principal(req);

    return p == NULL || p->team[0] == '\0';
}

static json_t *clock_json(uint32_t seconds)
{
    char text[16];

    snprintf(text, sizeof(text), "%02u:%02u", (seconds / 3600) % 100, (seconds / 60) % 60);
    return json_string(text);
}

static json_t *days_json(uint8_t days)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    json_t *arr = json_array();

    for (int d = 0; d < 7; d++) {
        if (days & (1u << d))
            json_array_append_new(arr, json_string(names[d]));
    }
    return arr;
}

static json_t *strings_json(char *const *items, unsigned count)
{
    json_t *arr = json_array();

    for (unsigned i = 0; i < count; i++)
        json_array_append_new(arr, json_string(items[i]));
    return arr;
}

static json_t *layer_json(const struct config_schedule_layer *layer)
{
    json_t *restrictions = json_array();

    for (unsigned i = 0; i < layer->restriction_count; i++) {
        const struct config_restriction *r = &layer->restrictions[i];
        json_array_append_new(restrictions, json_pack("{s:o, s:o, s:o}", "days", days_json(r->days),
                                                      "from", clock_json(r->from_seconds), "to",
                                                      clock_json(r->to_seconds)));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "name", layer->name, "rrule",
                     layer->rrule, "start", layer->start, "handoff",
                     clock_json(layer->handoff_seconds), "time_zone", layer->time_zone, "users",
                     strings_json(layer->users, layer->user_count), "restrictions", restrictions);
}

static json_t *shift_json(const struct config_schedule *sched, const struct shift *s)
{
    json_t *obj = json_pack("{s:s?, s:o, s:o}", "user", s->user, "start",
                            api_time_json(s->start_ms), "end", api_time_json(s->end_ms));

    if (s->layer >= 0 && (unsigned)s->layer < sched->layer_count)
        json_object_set_new(obj, "layer", json_string(sched->layers[s->layer].name));
    else if (s->layer == -1 && s->user != NULL)
        json_object_set_new(obj, "override_id", json_integer(s->override_id));
    if (s->user == NULL)
        json_object_set_new(obj, "user", json_null());
    return obj;
}

/* {user, start, end} of a shift with somebody on call, else null. */
static json_t *who_json(const struct shift *s)
{
    if (s->user == NULL)
        return json_null();
    return json_pack("{s:s, s:o, s:o}", "user", s->user, "start", api_time_json(s->start_ms), "end",
                     api_time_json(s->end_ms));
}

static json_t *override_json(const struct override_row *o)
{
    json_t *obj =
        json_pack("{s:I, s:s, s:s, s:o, s:o, s:s?, s:s, s:o}", "id", (json_int_t)o->id, "schedule",
                  o->schedule, "user", o->user_name, "from", api_time_json(o->starts_at_ms),
                  "until", api_time_json(o->ends_at_ms), "reason", o->reason, "created_by",
                  o->created_by, "created_at", api_time_json(o->created_at_ms));

    if (o->reason == NULL)
        json_object_set_new(obj, "reason", json_null());
    if (o->deleted_at_ms != 0) {
        json_object_set_new(obj, "deleted_at", api_time_json(o->deleted_at_ms));
        json_object_set_new(obj, "deleted_by", json_string(o->deleted_by));
    }
    return obj;
}

static int parse_positive_id(const char *text, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (text == NULL)
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* The {id} parameter, or 400 on resp ("<what> id must be a positive integer"). */
static int id_param(struct http_request *req, const char *what, int64_t *out,
                    struct http_response *resp)
{
    if (parse_positive_id(http_request_param(req, "id"), out) != 0) {
        http_response_error(resp, 400, "%s id must be a positive integer", what);
        return -1;
    }
    return 0;
}

/* Answer a failed lookup of <what> id: 404 when there is none, else the error. */
static void lookup_failed(const struct ob_error *err, const char *what, int64_t id,
                          struct http_response *resp)
{
    if (err->code == OB_ENOTFOUND)
        http_response_error(resp, 404, "no %s %lld", what, (long long)id);
    else
        http_response_from_error(resp, err);
}

/* The overrides of one schedule out of a set of every schedule's, into out
 * (capacity set->count). */
static size_t overrides_of(const char *schedule, const struct override_set *set,
                           struct schedule_override *out)
{
    size_t k = 0;

    for (size_t i = 0; i < set->count; i++) {
        if (strcmp(set->rows[i].schedule, schedule) == 0)
            out[k++] = set->view[i];
    }
    return k;
}

json_t *api_oncall_json(struct store_conn *conn, const struct config_schedule *sched, int64_t at_ms,
                        struct ob_error *err)
{
    struct override_set set;
    struct shift now = {0}, next = {0};
    json_t *obj = NULL;

    if (override_set_load(conn, sched->name, at_ms - ONCALL_LOOK_MS, at_ms + ONCALL_LOOK_MS, &set,
                          err) != 0)
        return NULL;
    if (schedule_oncall_at(sched, set.view, set.count, at_ms, &now, &next, err) != 0)
        goto out;
    obj = json_pack("{s:s, s:s, s:o, s:o, s:o}", "schedule", sched->name, "team", sched->team->name,
                    "at", api_time_json(at_ms), "oncall", who_json(&now), "next", who_json(&next));
    if (obj == NULL)
        ob_fail(err, OB_ENOMEM, "out of memory");
out:
    override_set_release(&set);
    return obj;
}

/* ---- /api/v1/schedules ------------------------------------------------------------ */

static json_t *schedule_summary_json(const struct config_schedule *sched)
{
    return json_pack("{s:s, s:s, s:s?, s:s, s:i}", "name", sched->name, "team", sched->team->name,
                     "description", sched->description, "time_zone", sched->time_zone, "layers",
                     (int)sched->layer_count);
}

void api_schedules_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *only_team = http_request_query(req, "team");
    json_t *arr = json_array();

    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        if (!oncall_visible(req, team->name) ||
            (only_team != NULL && strcmp(only_team, team->name) != 0))
            continue;
        for (unsigned i = 0; i < team->schedule_count; i++)
            json_array_append_new(arr, schedule_summary_json(&team->schedules[i]));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "schedules", arr));
    config_unref(cfg);
}

/* The schedule called name, if the caller may see it; answers resp (404 or
 * 403) itself otherwise. */
static const struct config_schedule *find_visible_schedule(const struct config *cfg,
                                                           struct http_request *req,
                                                           const char *name,
                                                           struct http_response *resp)
{
    const struct config_schedule *sched = config_find_schedule(cfg, name);

    if (sched == NULL) {
        http_response_error(resp, 404, "no schedule named '%s'", name);
        return NULL;
    }
    if (!oncall_visible(req, sched->team->name)) {
        http_response_error(resp, 403, "schedule '%s' belongs to team %s, not %s", name,
                            sched->team->name, api_principal(req)->team);
        return NULL;
    }
    return sched;
}

/* The schedule named by the {schedule} parameter (find_visible_schedule). */
static const struct config_schedule *
find_schedule(const struct config *cfg, struct http_request *req, struct http_response *resp)
{
    return find_visible_schedule(cfg, req, http_request_param(req, "schedule"), resp);
}

/* A time from a query parameter (default dflt), or 400 on resp. */
static int query_time(struct http_request *req, const char *name, const char *time_zone,
                      int64_t now_ms, int64_t dflt, int64_t *out, struct http_response *resp)
{
    const char *text = http_request_query(req, name);
    struct ob_error err = {0};

    *out = dflt;
    if (text == NULL)
        return 0;
    if (oncall_parse_time(text, time_zone, now_ms, out, &err) != 0) {
        http_response_error(resp, 400, "%s: %s", name, err.msg);
        return -1;
    }
    return 0;
}

void api_schedule_show(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const struct config_schedule *sched = find_schedule(cfg, req, resp);
    struct store_conn *conn = NULL;
    struct override_set set = {0};
    struct shift *shifts = NULL;
    struct ob_error err = {0};
    int64_t now = store_now_ms(), from, until;
    size_t n_shifts = 0;
    json_t *obj, *layers, *arr, *ovr;

    if (sched == NULL)
        goto out;
    if (query_time(req, "from", sched->time_zone, now, now - now % 1000, &from, resp) != 0 ||
        query_time(req, "until", sched->time_zone, now, from + ONCALL_DEFAULT_SPAN_MS, &until,
                   resp) != 0)
        goto out;
    if (until <= from) {
        http_response_error(resp, 400, "until must be after from");
        goto out;
    }
    if (until - from > ONCALL_MAX_WINDOW_MS) {
        http_response_error(resp, 400, "a timeline may span at most %lld days",
                            ONCALL_MAX_WINDOW_MS / ONCALL_DAY_MS);
        goto out;
    }
    if (store_acquire(app->store, &conn, &err) != 0 ||
        override_set_load(conn, sched->name, from, until, &set, &err) != 0 ||
        schedule_timeline(sched, set.view, set.count, from, until, &shifts, &n_shifts, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    obj = schedule_summary_json(sched);
    layers = json_array();
    for (unsigned i = 0; i < sched->layer_count; i++)
        json_array_append_new(layers, layer_json(&sched->layers[i]));
    json_object_set_new(obj, "layers", layers);
    arr = json_array();
    for (size_t i = 0; i < n_shifts; i++)
        json_array_append_new(arr, shift_json(sched, &shifts[i]));
    ovr = json_array();
    for (size_t i = 0; i < set.count; i++)
        json_array_append_new(ovr, override_json(&set.rows[i]));
    json_object_set_new(obj, "timeline",
                        json_pack("{s:o, s:o, s:o, s:o}", "from", api_time_json(from), "until",
                                  api_time_json(until), "shifts", arr, "overrides", ovr));
    api_reply_json(resp, 200, obj);
out:
    free(shifts);
    override_set_release(&set);
    store_release(conn);
    config_unref(cfg);
}

/* ---- /api/v1/oncall --------------------------------------------------------------- */

void api_oncall(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const char *team_name = http_request_query(req, "team");
    const char *sched_name = http_request_query(req, "schedule");
    const char *at_text = http_request_query(req, "at");
    const struct config_schedule *only = NULL;
    const struct config_team *only_team = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int64_t now = store_now_ms();
    json_t *arr = NULL;

    if (team_name != NULL && sched_name != NULL) {
        http_response_error(resp, 400, "give team or schedule, not both");
        goto out;
    }
    if (sched_name != NULL) {
        only = find_visible_schedule(cfg, req, sched_name, resp);
        if (only == NULL)
            goto out;
    }
    if (team_name != NULL) {
        only_team = config_find_team(cfg, team_name);
        if (only_team == NULL) {
            http_response_error(resp, 404, "no team named '%s'", team_name);
            goto out;
        }
        if (!oncall_visible(req, team_name)) {
            http_response_error(resp, 403, "token '%s' is limited to team %s",
                                api_principal(req)->name, api_principal(req)->team);
            goto out;
        }
    }
    /* An unparseable time is refused whatever the schedules. */
    if (at_text != NULL) {
        int64_t probe;
        if (oncall_parse_time(at_text, only != NULL ? only->time_zone : "UTC", now, &probe, &err) !=
            0) {
            http_response_error(resp, 400, "at: %s", err.msg);
            goto out;
        }
    }
    if (store_acquire(app->store, &conn, &err) != 0)
        goto fail;
    arr = json_array();
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        if (!oncall_visible(req, team->name) || (only_team != NULL && only_team != team))
            continue;
        for (unsigned i = 0; i < team->schedule_count; i++) {
            const struct config_schedule *sched = &team->schedules[i];
            int64_t at = now;
            json_t *entry;

            if (only != NULL && only != sched)
                continue;
            /* A local time without offset is read in each schedule's zone. */
            if (at_text != NULL &&
                oncall_parse_time(at_text, sched->time_zone, now, &at, &err) != 0) {
                http_response_error(resp, 400, "at: %s", err.msg);
                goto out;
            }
            entry = api_oncall_json(conn, sched, at, &err);
            if (entry == NULL)
                goto fail;
            json_array_append_new(arr, entry);
        }
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "oncall", arr));
    arr = NULL;
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    json_decref(arr);
    store_release(conn);
    config_unref(cfg);
}

/* ---- overrides ---------------------------------------------------------------------- */

void api_overrides_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const struct config_schedule *sched = find_schedule(cfg, req, resp);
    struct store_conn *conn = NULL;
    struct override_row *rows = NULL;
    struct ob_error err = {0};
    size_t n = 0;
    json_t *arr;

    if (sched == NULL)
        goto out;
    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_override_list_current(conn, sched->name, store_now_ms(), &rows, &n, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, override_json(&rows[i]));
    api_reply_json(resp, 200, json_pack("{s:s, s:o}", "schedule", sched->name, "overrides", arr));
out:
    override_row_array_free(rows, n);
    store_release(conn);
    config_unref(cfg);
}

/* One audit event in the caller's transaction. */
static int audit_in_tx(struct store_conn *conn, const struct http_request *req, int64_t now_ms,
                       const char *action, const char *target, json_t *details,
                       struct ob_error *err)
{
    struct audit_origin origin = api_origin(req);

    return audit_append(conn, &origin, action, target, details, now_ms, err);
}

static int body_time(json_t *body, const char *key, const char *time_zone, int64_t now_ms,
                     int64_t *out, struct ob_error *err)
{
    const char *text = NULL;
    int rc = api_json_string(body, key, true, 64, &text, err);

    if (rc != 0)
        return rc;
    if (oncall_parse_time(text, time_zone, now_ms, out, err) != 0) {
        char why[OB_ERROR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err->msg);
        return ob_fail(err, OB_EINVAL, "field '%s': %s", key, why);
    }
    return 0;
}

void api_overrides_create(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"user", "from", "until", "reason", NULL};
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const struct config_schedule *sched = find_schedule(cfg, req, resp);
    struct audit_origin origin = api_origin(req);
    struct override_row o = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    const char *user = NULL, *reason = NULL;
    int64_t now = store_now_ms(), conflict = 0;
    json_t *body = NULL, *details = NULL;
    char target[40];

    if (sched == NULL)
        goto out;
    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "user", true, 128, &user, &err) != 0 ||
        api_json_string(body, "reason", false, OVERRIDE_REASON_MAX, &reason, &err) != 0 ||
        body_time(body, "from", sched->time_zone, now, &o.starts_at_ms, &err) != 0 ||
        body_time(body, "until", sched->time_zone, now, &o.ends_at_ms, &err) != 0)
        goto fail;
    if (config_find_user(cfg, user) == NULL) {
        ob_fail(&err, OB_EINVAL, "no user named '%s'", user);
        goto fail;
    }
    if (o.ends_at_ms <= o.starts_at_ms) {
        ob_fail(&err, OB_EINVAL, "inverted override: until must be after from");
        goto fail;
    }
    if (o.ends_at_ms <= now) {
        ob_fail(&err, OB_EINVAL, "the override would end in the past");
        goto fail;
    }
    if (o.ends_at_ms - o.starts_at_ms > OVERRIDE_MAX_MS) {
        ob_fail(&err, OB_EINVAL, "an override may last at most 366 days");
        goto fail;
    }
    o.schedule = sched->name;
    o.user_name = (char *)user;
    o.reason = reason != NULL && reason[0] != '\0' ? (char *)reason : NULL;
    o.created_by = (char *)origin.actor;
    o.created_at_ms = now;
    if (store_acquire(app->store, &conn, &err) != 0 || store_begin(conn, &err) != 0 ||
        store_override_insert(conn, &o, &conflict, &err) != 0)
        goto fail;
    snprintf(target, sizeof(target), "override:%lld", (long long)o.id);
    details = json_pack("{s:s, s:s, s:I, s:I, s:s?}", "schedule", o.schedule, "user", o.user_name,
                        "from_ms", (json_int_t)o.starts_at_ms, "until_ms", (json_int_t)o.ends_at_ms,
                        "reason", o.reason);
    if (audit_in_tx(conn, req, now, "override.create", target, details, &err) != 0 ||
        store_commit(conn, &err) != 0)
        goto fail;
    api_reply_json(resp, 201, override_json(&o));
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    json_decref(details);
    json_decref(body);
    store_release(conn); /* rolls back an unfinished transaction */
    config_unref(cfg);
}

void api_override_delete(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    struct audit_origin origin = api_origin(req);
    const struct config_schedule *sched;
    struct override_row o = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int64_t now = store_now_ms(), id;
    json_t *details = NULL;
    char target[40];

    if (id_param(req, "override", &id, resp) != 0)
        goto out;
    if (store_acquire(app->store, &conn, &err) != 0)
        goto fail;
    if (store_override_get(conn, id, &o, &err) != 0) {
        lookup_failed(&err, "override", id, resp);
        goto out;
    }
    /* A schedule since removed from the configuration has no team: only a
     * token for every team may clean up after it. */
    sched = config_find_schedule(cfg, o.schedule);
    if (sched != NULL ? !oncall_visible(req, sched->team->name) : !oncall_all_teams(req)) {
        http_response_error(resp, 403, "override %lld is of schedule '%s', not of team %s",
                            (long long)id, o.schedule, api_principal(req)->team);
        goto out;
    }
    snprintf(target, sizeof(target), "override:%lld", (long long)id);
    details =
        json_pack("{s:s, s:s, s:I, s:I}", "schedule", o.schedule, "user", o.user_name, "from_ms",
                  (json_int_t)o.starts_at_ms, "until_ms", (json_int_t)o.ends_at_ms);
    if (store_begin(conn, &err) != 0 ||
        store_override_delete(conn, id, origin.actor, now, &err) != 0 ||
        audit_in_tx(conn, req, now, "override.delete", target, details, &err) != 0 ||
        store_commit(conn, &err) != 0)
        goto fail;
    override_row_release(&o);
    if (store_override_get(conn, id, &o, &err) != 0)
        goto fail;
    api_reply_json(resp, 200, override_json(&o));
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    json_decref(details);
    override_row_release(&o);
    store_release(conn);
    config_unref(cfg);
}

/* ---- iCal feeds ------------------------------------------------------------------- */

static json_t *feed_json(const struct ical_feed *f)
{
    json_t *obj = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "id", (json_int_t)f->id, "kind",
                            f->kind, "subject", f->subject, "created_by", f->created_by,
                            "created_at", api_time_json(f->created_at_ms), "state",
                            f->revoked_at_ms != 0 ? "revoked" : "active");

    json_object_set_new(obj, "revoked_at", api_time_json(f->revoked_at_ms));
    return obj;
}

/* May the caller see (and revoke) this feed? */
static bool feed_visible(const struct config *cfg, const struct http_request *req,
                         const struct ical_feed *f)
{
    const struct config_schedule *sched;

    if (oncall_all_teams(req))
        return true;
    if (strcmp(f->kind, "schedule") != 0)
        return false;
    sched = config_find_schedule(cfg, f->subject);
    return sched != NULL && oncall_visible(req, sched->team->name);
}

/* Where feeds are served: public_url, else the Host the caller used. */
static void feed_base_url(const struct config *cfg, const struct http_request *req,
                          struct strbuf *out)
{
    const char *host = http_request_header(req, "Host");

    if (cfg->public_url != NULL)
        strbuf_adds(out, cfg->public_url);
    else if (host != NULL && host[0] != '\0' && strpbrk(host, "/ \r\n\"") == NULL)
        strbuf_addf(out, "http://%s", host);
    else
        strbuf_addf(out, "http://%s:%u", cfg->listen_host, (unsigned)cfg->listen_port);
    while (out->len > 0 && out->buf[out->len - 1] == '/')
        out->buf[--out->len] = '\0';
}

void api_ical_feeds_create(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"user", "schedule", NULL};
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    struct audit_origin origin = api_origin(req);
    struct ical_feed f = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    struct strbuf url = STRBUF_INIT;
    const char *user = NULL, *schedule = NULL;
    char secret[TOKEN_SECRET_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1], target[40];
    int64_t now = store_now_ms();
    json_t *body = NULL, *details = NULL, *obj;

    secret[0] = '\0';
    if (api_parse_json_object(http_request_header(req, "Content-Type"), req->body, req->body_len,
                              &body, &err) != 0 ||
        api_json_only_keys(body, allowed, &err) != 0 ||
        api_json_string(body, "user", false, 128, &user, &err) != 0 ||
        api_json_string(body, "schedule", false, 128, &schedule, &err) != 0)
        goto fail;
    if ((user == NULL) == (schedule == NULL)) {
        ob_fail(&err, OB_EINVAL, "give either 'user' or 'schedule'");
        goto fail;
    }
    if (user != NULL) {
        if (config_find_user(cfg, user) == NULL) {
            ob_fail(&err, OB_ENOTFOUND, "no user named '%s'", user);
            goto fail;
        }
        if (!oncall_all_teams(req)) {
            ob_fail(&err, OB_EFORBIDDEN,
                    "a user's feed spans every team: it needs a token for every team");
            goto fail;
        }
        f.kind = "user";
        f.subject = (char *)user;
    } else {
        const struct config_schedule *sched = config_find_schedule(cfg, schedule);
        if (sched == NULL) {
            ob_fail(&err, OB_ENOTFOUND, "no schedule named '%s'", schedule);
            goto fail;
        }
        if (!oncall_visible(req, sched->team->name)) {
            ob_fail(&err, OB_EFORBIDDEN, "schedule '%s' belongs to team %s", schedule,
                    sched->team->name);
            goto fail;
        }
        f.kind = "schedule";
        f.subject = (char *)schedule;
    }
    /* An API token's secret with its own prefix: a feed URL cannot be
     * mistaken for (or used as) an API token. */
    if (token_generate(secret, sizeof(secret)) != 0) {
        ob_fail(&err, OB_EINTERNAL, "cannot make a random token");
        goto fail;
    }
    memcpy(secret, ICAL_PREFIX, 4);
    token_hash_hex(secret, hash);
    f.created_by = (char *)origin.actor;
    f.created_at_ms = now;
    if (store_acquire(app->store, &conn, &err) != 0 || store_begin(conn, &err) != 0 ||
        store_ical_feed_insert(conn, &f, hash, &err) != 0)
        goto fail;
    snprintf(target, sizeof(target), "ical_feed:%lld", (long long)f.id);
    details = json_pack("{s:s, s:s}", "kind", f.kind, "subject", f.subject);
    if (audit_in_tx(conn, req, now, "ical_feed.create", target, details, &err) != 0 ||
        store_commit(conn, &err) != 0)
        goto fail;
    feed_base_url(cfg, req, &url);
    strbuf_addf(&url, "/ical/%s%s", secret, ICAL_SUFFIX);
    obj = feed_json(&f);
    json_object_set_new(obj, "url", json_string(url.buf));
    json_object_set_new(obj, "token", json_string(secret));
    api_reply_json(resp, 201, obj);
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    memset(secret, 0, sizeof(secret));
    if (url.buf != NULL)
        memset(url.buf, 0, url.len);
    strbuf_release(&url);
    json_decref(details);
    json_decref(body);
    store_release(conn);
    config_unref(cfg);
}

void api_ical_feeds_list(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    struct store_conn *conn = NULL;
    struct ical_feed *rows = NULL;
    struct ob_error err = {0};
    size_t n = 0;
    json_t *arr;

    if (store_acquire(app->store, &conn, &err) != 0 ||
        store_ical_feed_list(conn, &rows, &n, &err) != 0) {
        http_response_from_error(resp, &err);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (feed_visible(cfg, req, &rows[i]))
            json_array_append_new(arr, feed_json(&rows[i]));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "ical_feeds", arr));
out:
    ical_feed_array_free(rows, n);
    store_release(conn);
    config_unref(cfg);
}

void api_ical_feed_revoke(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    struct ical_feed f = {0};
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int64_t now = store_now_ms(), id;
    json_t *details = NULL;
    char target[40];

    if (id_param(req, "feed", &id, resp) != 0)
        goto out;
    if (store_acquire(app->store, &conn, &err) != 0)
        goto fail;
    if (store_ical_feed_get(conn, id, &f, &err) != 0) {
        lookup_failed(&err, "iCal feed", id, resp);
        goto out;
    }
    if (!feed_visible(cfg, req, &f)) {
        http_response_error(resp, 403, "iCal feed %lld is not of team %s", (long long)id,
                            api_principal(req)->team);
        goto out;
    }
    snprintf(target, sizeof(target), "ical_feed:%lld", (long long)id);
    details = json_pack("{s:s, s:s}", "kind", f.kind, "subject", f.subject);
    if (store_begin(conn, &err) != 0 || store_ical_feed_revoke(conn, id, now, &err) != 0 ||
        audit_in_tx(conn, req, now, "ical_feed.revoke", target, details, &err) != 0 ||
        store_commit(conn, &err) != 0)
        goto fail;
    ical_feed_release(&f);
    if (store_ical_feed_get(conn, id, &f, &err) != 0)
        goto fail;
    api_reply_json(resp, 200, feed_json(&f));
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    json_decref(details);
    ical_feed_release(&f);
    store_release(conn);
    config_unref(cfg);
}

/* ---- GET /ical/{token}.ics ------------------------------------------------------------ */

/*
 * A feed lists whole shifts, so that an event's UID (which names its start)
 * stays the same from one fetch to the next: the timeline is computed over
 * the window widened by ICAL_MARGIN_MS on both sides, and the shifts that
 * touch the window are kept unclipped (only a shift longer than the margin
 * is still cut at its edge).
 */
#define ICAL_MARGIN_MS (14 * ONCALL_DAY_MS)

/* The shifts with somebody on call (of `user` only, when not NULL) of one
 * schedule that overlap [from, until), appended to fs. */
struct feed_shifts {
    struct shift *items;
    const char **names; /* the schedule of each shift */
    size_t count, cap;
};

static int feed_add_schedule(struct feed_shifts *fs, const struct config_schedule *sched,
                             const char *user, const struct override_set *set, int64_t from_ms,
                             int64_t until_ms, struct ob_error *err)
{
    struct schedule_override *view = set->count > 0 ? calloc(set->count, sizeof(*view)) : NULL;
    struct shift *shifts = NULL;
    size_t n_view, n = 0;
    int rc;

    if (set->count > 0 && view == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    n_view = overrides_of(sched->name, set, view);
    rc = schedule_timeline(sched, view, n_view, from_ms - ICAL_MARGIN_MS, until_ms + ICAL_MARGIN_MS,
                           &shifts, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (shifts[i].user == NULL || (user != NULL && strcmp(shifts[i].user, user) != 0) ||
            shifts[i].end_ms <= from_ms || shifts[i].start_ms >= until_ms)
            continue;
        if (fs->count == fs->cap) {
            size_t cap = fs->cap ? fs->cap * 2 : 64;
            struct shift *items = realloc(fs->items, cap * sizeof(*items));
            const char **names = items != NULL ? realloc(fs->names, cap * sizeof(*names)) : NULL;
            if (items != NULL)
                fs->items = items;
            if (names == NULL) {
                rc = ob_fail(err, OB_ENOMEM, "out of memory");
                break;
            }
            fs->names = names;
            fs->cap = cap;
        }
        fs->items[fs->count] = shifts[i];
        fs->names[fs->count] = sched->name;
        fs->count++;
    }
    free(shifts);
    free(view);
    return rc;
}

void api_ical_feed(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config *cfg = app_config_get(app);
    const char *param = http_request_param(req, "token");
    struct store_conn *conn = NULL;
    struct ical_feed f = {0};
    struct override_set set = {0};
    struct feed_shifts fs = {0};
    struct ob_error err = {0};
    char secret[TOKEN_SECRET_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1], calname[256];
    int64_t now = store_now_ms(), from, until;
    size_t len = param != NULL ? strlen(param) : 0;
    char *text = NULL;

    /* Whatever is wrong with the token, the answer is the same 404. */
    if (len != TOKEN_SECRET_LEN + strlen(ICAL_SUFFIX) ||
        strcmp(param + TOKEN_SECRET_LEN, ICAL_SUFFIX) != 0 || strncmp(param, ICAL_PREFIX, 4) != 0) {
        http_response_error(resp, 404, "no such calendar");
        goto out;
    }
    memcpy(secret, param, TOKEN_SECRET_LEN);
    secret[TOKEN_SECRET_LEN] = '\0';
    token_hash_hex(secret, hash);
    memset(secret, 0, sizeof(secret));
    if (store_acquire(app->store, &conn, &err) != 0)
        goto fail;
    if (store_ical_feed_find_by_hash(conn, hash, &f, &err) != 0) {
        if (err.code == OB_ENOTFOUND)
            http_response_error(resp, 404, "no such calendar");
        else
            http_response_from_error(resp, &err);
        goto out;
    }
    from = now - ONCALL_DAY_MS;
    until = now + (int64_t)cfg->ical_horizon_seconds * 1000;
    if (until <= from)
        until = from + 31 * ONCALL_DAY_MS;
    if (until - from > ONCALL_MAX_WINDOW_MS - 2 * ICAL_MARGIN_MS)
        until = from + ONCALL_MAX_WINDOW_MS - 2 * ICAL_MARGIN_MS;
    if (strcmp(f.kind, "schedule") == 0) {
        const struct config_schedule *sched = config_find_schedule(cfg, f.subject);
        if (sched == NULL) {
            http_response_error(resp, 404, "no such calendar");
            goto out;
        }
        if (override_set_load(conn, sched->name, from - ICAL_MARGIN_MS, until + ICAL_MARGIN_MS,
                              &set, &err) != 0 ||
            feed_add_schedule(&fs, sched, NULL, &set, from, until, &err) != 0)
            goto fail;
        snprintf(calname, sizeof(calname), "On call: %s", sched->name);
    } else {
        if (override_set_load(conn, NULL, from - ICAL_MARGIN_MS, until + ICAL_MARGIN_MS, &set,
                              &err) != 0)
            goto fail;
        for (unsigned t = 0; t < cfg->team_count; t++) {
            for (unsigned i = 0; i < cfg->teams[t].schedule_count; i++) {
                if (feed_add_schedule(&fs, &cfg->teams[t].schedules[i], f.subject, &set, from,
                                      until, &err) != 0)
                    goto fail;
            }
        }
        snprintf(calname, sizeof(calname), "On call: %s", f.subject);
    }
    if (ical_render(calname, fs.items, fs.names, fs.count, now, &text, &err) != 0)
        goto fail;
    http_response_take(resp, 200, "text/calendar; charset=utf-8", text, strlen(text));
    http_response_add_header(resp, "Cache-Control", "private, max-age=300");
    text = NULL;
    goto out;
fail:
    http_response_from_error(resp, &err);
out:
    free(text);
    free(fs.items);
    free(fs.names);
    override_set_release(&set);
    ical_feed_release(&f);
    store_release(conn);
    config_unref(cfg);
}
