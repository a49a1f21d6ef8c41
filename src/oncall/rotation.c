/*
 * rotation.c - compiled rotations: an RRULE (through libical) from a local
 * DTSTART, and the cache of its handoff instants that makes "who is on call
 * at t" a binary search; plus the shared libical lock and the local/UTC
 * conversions every other file here uses.
 *
 * The iterator runs on floating (zone-less) local times and each occurrence
 * is converted to UTC on its own: libical's zoned iterator keeps the shift a
 * spring-forward gap gave one occurrence for every later one (02:30 becomes
 * 03:30 for good), and compares a UTC UNTIL with floating times naively.  So
 * UNTIL is taken out of the rule and applied here, to instants.
 */
#include "oncall/internal.h"

#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Enough for an hourly rotation over 20 years (175,320 handoffs). */
#define ROTATION_MAX_HANDOFFS 200000
#define ROTATION_RRULE_MAX    512
/* Occurrences generated past the one asked for, so that nearby look-ups
 * do not each extend the cache. */
#define ROTATION_SLACK 32
/* Occurrences in a row that map to no new instant before we give up. */
#define ROTATION_MAX_SKIPS 1000

enum rotation_until { ROT_UNTIL_NONE, ROT_UNTIL_INSTANT, ROT_UNTIL_LOCAL, ROT_UNTIL_DATE };

struct rotation {
    pthread_mutex_t lock; /* guards everything below */
    icaltimezone *zone;   /* borrowed from libical's cache (lives forever) */
    icalrecur_iterator *it;
    int64_t dtstart_ms;
    enum rotation_until until_kind;
    int64_t until_ms;
    struct icaltimetype until_local; /* floating, for ROT_UNTIL_LOCAL / _DATE */
    int64_t *handoffs;               /* sorted, strictly increasing */
    size_t count, cap;
    int exhausted; /* the rule has no further occurrence */
    int full;      /* ROTATION_MAX_HANDOFFS reached */
};

static pthread_mutex_t oncall_ical_mutex = PTHREAD_MUTEX_INITIALIZER;

void oncall_ical_lock(void)
{
    pthread_mutex_lock(&oncall_ical_mutex);
}

void oncall_ical_unlock(void)
{
    pthread_mutex_unlock(&oncall_ical_mutex);
}

/* Only plausible IANA names reach libical, which would try to open others
 * as files below the zoneinfo directory. */
static int oncall_tz_name_ok(const char *tz)
{
    size_t len;

    if (tz == NULL)
        return 0;
    len = strlen(tz);
    if (len == 0 || len > 63 || tz[0] == '/' || tz[0] == '.' || tz[len - 1] == '/' ||
        strstr(tz, "//") != NULL || strstr(tz, "/.") != NULL)
        return 0;
    for (const char *p = tz; *p != '\0'; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '/' || *p == '_' || *p == '-' || *p == '+' || *p == '.';
        if (!ok)
            return 0;
    }
    return 1;
}

icaltimezone *oncall_zone_locked(const char *tz)
{
    if (!oncall_tz_name_ok(tz))
        return NULL;
    if (strcmp(tz, "UTC") == 0)
        return icaltimezone_get_utc_timezone();
    return icaltimezone_get_builtin_timezone(tz);
}

int oncall_time_zone_known(const char *tz)
{
    icaltimezone *zone;

    oncall_ical_lock();
    zone = oncall_zone_locked(tz);
    oncall_ical_unlock();
    return zone != NULL;
}

static int oncall_same_wall_time(struct icaltimetype a, struct icaltimetype b)
{
    return a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour &&
           a.minute == b.minute && a.second == b.second;
}

/* The fields of t read as UTC: only for differences between wall times. */
static int64_t oncall_fields_seconds(struct icaltimetype t)
{
    t.zone = icaltimezone_get_utc_timezone();
    t.is_date = 0;
    return (int64_t)icaltime_as_timet(t);
}

struct icaltimetype oncall_utc_to_local_locked(int64_t seconds, icaltimezone *zone)
{
    return icaltime_from_timet_with_zone((time_t)seconds, 0, zone);
}

int64_t oncall_local_to_utc_locked(struct icaltimetype local, icaltimezone *zone)
{
    static const int64_t steps[] = {3600, 1800, 7200};
    int64_t u;
    struct icaltimetype back;

    local.zone = NULL;
    local.is_date = 0;
    if (zone == icaltimezone_get_utc_timezone())
        return oncall_fields_seconds(local);
    u = (int64_t)icaltime_as_timet_with_zone(local, zone);
    back = oncall_utc_to_local_locked(u, zone);
    if (!oncall_same_wall_time(back, local)) {
        /* Skipped by a gap: libical read it with the offset after the gap,
         * landing before the change; move it by what the wall clock missed. */
        return u + (oncall_fields_seconds(local) - oncall_fields_seconds(back));
    }
    /* Occurs twice: take the first occurrence. */
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (oncall_same_wall_time(oncall_utc_to_local_locked(u - steps[i], zone), local))
            return u - steps[i];
    }
    return u;
}

icaltimezone *rotation_zone(const struct rotation *rot)
{
    return rot->zone;
}

/* "YYYY-MM-DD", 1970 .. 2999. */
static int rotation_parse_date(const char *s, struct icaltimetype *out)
{
    int v[3] = {0, 0, 0};
    static const int widths[3] = {4, 2, 2};
    const char *p = s;

    if (s == NULL)
        return OB_EINVAL;
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < widths[k]; i++, p++) {
            if (*p < '0' || *p > '9')
                return OB_EINVAL;
            v[k] = v[k] * 10 + (*p - '0');
        }
        if (k < 2 && *p++ != '-')
            return OB_EINVAL;
    }
    if (*p != '\0' || v[0] < 1970 || v[0] > 2999 || v[1] < 1 || v[1] > 12 || v[2] < 1 ||
        v[2] > icaltime_days_in_month(v[1], v[0]))
        return OB_EINVAL;
    *out = icaltime_null_time();
    out->year = v[0];
    out->month = v[1];
    out->day = v[2];
    return 0;
}

/* Append instant (ms) unless it is not after the last one. */
static int rotation_push(struct rotation *rot, int64_t ms)
{
    if (rot->count > 0 && ms <= rot->handoffs[rot->count - 1])
        return 0;
    if (rot->count == rot->cap) {
        size_t cap = rot->cap == 0 ? 64 : rot->cap * 2;
        int64_t *h;
        if (cap > ROTATION_MAX_HANDOFFS)
            cap = ROTATION_MAX_HANDOFFS;
        h = realloc(rot->handoffs, cap * sizeof(*h));
        if (h == NULL)
            return OB_ENOMEM;
        rot->handoffs = h;
        rot->cap = cap;
    }
    rot->handoffs[rot->count++] = ms;
    if (rot->count == ROTATION_MAX_HANDOFFS)
        rot->full = 1;
    return 1;
}

/* Is the occurrence (floating local time, UTC instant ms) after UNTIL? */
static int rotation_past_until(const struct rotation *rot, struct icaltimetype occ, int64_t ms)
{
    struct icaltimetype d;

    switch (rot->until_kind) {
    case ROT_UNTIL_INSTANT:
        return ms > rot->until_ms;
    case ROT_UNTIL_LOCAL:
        return icaltime_compare(occ, rot->until_local) > 0;
    case ROT_UNTIL_DATE:
        d = occ;
        d.hour = d.minute = d.second = 0;
        return icaltime_compare(d, rot->until_local) > 0;
    case ROT_UNTIL_NONE:
    default:
        return 0;
    }
}

/* Generate handoffs until one is after target_ms (or the rule ends, or the
 * cache is full).  Rotation lock held. */
static int rotation_extend(struct rotation *rot, int64_t target_ms)
{
    int extra = 0, skips = 0;
    int rc = 0;

    if (rot->exhausted || rot->full)
        return 0;
    oncall_ical_lock();
    while (!rot->exhausted && !rot->full) {
        struct icaltimetype occ;
        int64_t ms;
        if (rot->count > 0 && rot->handoffs[rot->count - 1] > target_ms && ++extra > ROTATION_SLACK)
            break;
        occ = icalrecur_iterator_next(rot->it);
        if (icaltime_is_null_time(occ)) {
            rot->exhausted = 1;
            break;
        }
        occ.zone = NULL;
        ms = oncall_local_to_utc_locked(occ, rot->zone) * 1000;
        if (ms >= ONCALL_MAX_MS || rotation_past_until(rot, occ, ms)) {
            rot->exhausted = 1;
            break;
        }
        if (ms < rot->dtstart_ms) {
            rc = 0;
        } else {
            rc = rotation_push(rot, ms);
            if (rc < 0)
                break;
        }
        if (rc == 0 && ++skips > ROTATION_MAX_SKIPS) {
            rot->exhausted = 1;
            break;
        }
        if (rc == 1)
            skips = 0;
        rc = 0;
    }
    oncall_ical_unlock();
    return rc;
}

void rotation_free(struct rotation *rot)
{
    if (rot == NULL)
        return;
    if (rot->it != NULL)
        icalrecur_iterator_free(rot->it);
    pthread_mutex_destroy(&rot->lock);
    free(rot->handoffs);
    free(rot);
}

/* Take UNTIL out of the rule: libical would compare it with floating times. */
static void rotation_take_until(struct rotation *rot, struct icalrecurrencetype *r)
{
    struct icaltimetype until = r->until;

    r->until = icaltime_null_time();
    if (icaltime_is_null_time(until))
        return;
    if (until.is_date) {
        rot->until_kind = ROT_UNTIL_DATE;
        until.is_date = 0;
        until.hour = until.minute = until.second = 0;
        until.zone = NULL;
        rot->until_local = until;
    } else if (icaltime_is_utc(until)) {
        rot->until_kind = ROT_UNTIL_INSTANT;
        rot->until_ms = (int64_t)icaltime_as_timet(until) * 1000;
    } else {
        rot->until_kind = ROT_UNTIL_LOCAL;
        until.zone = NULL;
        rot->until_local = until;
    }
}

static int rotation_check_rule(const char *rrule, struct icalrecurrencetype *r,
                               struct ob_error *err)
{
    size_t len = rrule != NULL ? strlen(rrule) : 0;

    if (len == 0)
        return ob_fail(err, OB_EINVAL, "empty RRULE (use e.g. FREQ=WEEKLY)");
    if (len > ROTATION_RRULE_MAX)
        return ob_fail(err, OB_EINVAL, "RRULE longer than %d bytes", ROTATION_RRULE_MAX);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)rrule[i] < 0x20 || (unsigned char)rrule[i] > 0x7e)
            return ob_fail(err, OB_EINVAL, "RRULE has a control or non-ASCII character");
    }
    icalerror_clear_errno();
    *r = icalrecurrencetype_from_string(rrule);
    if (r->freq == ICAL_NO_RECURRENCE)
        return ob_fail(err, OB_EINVAL, "libical cannot parse RRULE '%s' (%s)", rrule,
                       icalerror_strerror(icalerrno));
    if (r->freq == ICAL_SECONDLY_RECURRENCE || r->freq == ICAL_MINUTELY_RECURRENCE)
        return ob_fail(err, OB_EINVAL, "RRULE '%s' is finer than hourly (use HOURLY or coarser)",
                       rrule);
    if (r->by_second[0] != ICAL_RECURRENCE_ARRAY_MAX ||
        r->by_minute[0] != ICAL_RECURRENCE_ARRAY_MAX)
        return ob_fail(err, OB_EINVAL,
                       "RRULE '%s' uses BYMINUTE or BYSECOND (the handoff time sets the minute)",
                       rrule);
    return 0;
}

int rotation_compile(const char *rrule, const char *start_date, uint32_t handoff_seconds,
                     const char *time_zone, struct rotation **out, struct ob_error *err)
{
    struct rotation *rot = NULL;
    struct icalrecurrencetype r;
    struct icaltimetype dtstart;
    int rc;

    *out = NULL;
    rc = rotation_check_rule(rrule, &r, err);
    if (rc != 0)
        return rc;
    if (rotation_parse_date(start_date, &dtstart) != 0)
        return ob_fail(err, OB_EINVAL, "start date '%s' is not a date YYYY-MM-DD (1970 to 2999)",
                       start_date != NULL ? start_date : "");
    if (handoff_seconds >= 86400)
        return ob_fail(err, OB_EINVAL, "handoff time is not within one day");
    rot = calloc(1, sizeof(*rot));
    if (rot == NULL)
        return OB_ENOMEM;
    if (pthread_mutex_init(&rot->lock, NULL) != 0) {
        free(rot);
        return ob_fail(err, OB_EINTERNAL, "cannot create a lock");
    }
    dtstart.is_date = 0;
    dtstart.hour = (int)(handoff_seconds / 3600);
    dtstart.minute = (int)(handoff_seconds / 60 % 60);
    dtstart.second = (int)(handoff_seconds % 60);
    oncall_ical_lock();
    rot->zone = oncall_zone_locked(time_zone);
    if (rot->zone != NULL)
        rot->dtstart_ms = oncall_local_to_utc_locked(dtstart, rot->zone) * 1000;
    oncall_ical_unlock();
    if (rot->zone == NULL) {
        rc = ob_fail(err, OB_EINVAL, "unknown time zone '%s'", time_zone != NULL ? time_zone : "");
        goto out;
    }
    rotation_take_until(rot, &r);
    icalerror_clear_errno();
    rot->it = icalrecur_iterator_new(r, dtstart);
    if (rot->it == NULL) {
        rc = ob_fail(err, OB_EINVAL, "libical refuses RRULE '%s' from %s (%s)", rrule, start_date,
                     icalerror_strerror(icalerrno));
        goto out;
    }
    rc = rotation_extend(rot, rot->dtstart_ms);
    if (rc != 0)
        goto out;
    if (rot->count == 0) {
        rc = ob_fail(err, OB_EINVAL, "RRULE '%s' has no occurrence from %s", rrule, start_date);
        goto out;
    }
    *out = rot;
    rot = NULL;
out:
    rotation_free(rot);
    return rc;
}

/* Index of the last handoff <= at_ms, or -1.  Lock held. */
static int64_t rotation_search(const struct rotation *rot, int64_t at_ms)
{
    size_t lo = 0, hi = rot->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rot->handoffs[mid] <= at_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo - 1;
}

/* Make sure the cache decides everything up to at_ms.  Lock held. */
static int rotation_cover(struct rotation *rot, int64_t at_ms, struct ob_error *err)
{
    int rc = rotation_extend(rot, at_ms);

    if (rc != 0)
        return rc;
    if (rot->full && rot->handoffs[rot->count - 1] <= at_ms)
        return ob_fail(err, OB_EINVAL,
                       "instant is beyond the rotation's %d cached handoffs; the rule is too "
                       "fine for so long a time",
                       ROTATION_MAX_HANDOFFS);
    return 0;
}

int rotation_at(struct rotation *rot, int64_t at_ms, int64_t *index, int64_t *start_ms,
                int64_t *end_ms, struct ob_error *err)
{
    int64_t i;
    int rc;

    pthread_mutex_lock(&rot->lock);
    rc = rotation_cover(rot, at_ms, err);
    if (rc != 0)
        goto out;
    i = rotation_search(rot, at_ms);
    if (i < 0) {
        rc = ob_fail(err, OB_ENOTFOUND, "before the rotation's first handoff");
        goto out;
    }
    *index = i;
    *start_ms = rot->handoffs[i];
    *end_ms = (size_t)i + 1 < rot->count ? rot->handoffs[i + 1] : INT64_MAX;
out:
    pthread_mutex_unlock(&rot->lock);
    return rc;
}

int rotation_slice(struct rotation *rot, int64_t from_ms, int64_t until_ms, int64_t *first_index,
                   int64_t **out, size_t *n, struct ob_error *err)
{
    int64_t first, last;
    int rc;

    *out = NULL;
    *n = 0;
    *first_index = 0;
    pthread_mutex_lock(&rot->lock);
    rc = rotation_cover(rot, until_ms, err);
    if (rc != 0)
        goto out;
    first = rotation_search(rot, from_ms);
    if (first < 0)
        first = 0;
    last = rotation_search(rot, until_ms - 1); /* last handoff < until_ms */
    if (last < first)
        goto out;
    *out = malloc((size_t)(last - first + 1) * sizeof(**out));
    if (*out == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    memcpy(*out, rot->handoffs + first, (size_t)(last - first + 1) * sizeof(**out));
    *n = (size_t)(last - first + 1);
    *first_index = first;
out:
    pthread_mutex_unlock(&rot->lock);
    return rc;
}
