/*
 * schedule.h - who is on call: rotations (iCalendar RRULE through libical),
 * layers, restrictions and overrides, evaluated for any instant, and the
 * iCalendar (RFC 5545) export of the result.
 *
 * Time: every instant is milliseconds since the Unix epoch, UTC.  Local
 * times (handoffs, restrictions) are interpreted in the layer's IANA time
 * zone through libical, so that a 09:00 handoff stays 09:00 across
 * daylight-saving changes.
 *
 * Threads: a compiled rotation may be used from any thread (its cache of
 * handoff instants is guarded by its own lock).  Everything else here is
 * pure: no globals, no I/O.
 *
 * Ownership: rotation_compile() hands out a rotation freed with
 * rotation_free().  Functions returning shifts fill an owned array freed
 * with free(); the `user` strings in a shift borrow from the configuration
 * (or from the overrides passed in) and live as long as those.
 */
#ifndef OPSBELL_ONCALL_SCHEDULE_H
#define OPSBELL_ONCALL_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

struct config_schedule;
struct ob_error;
struct rotation;

/* ---- rotations ------------------------------------------------------------- */

/*
 * Compile one layer's recurrence: handoffs at the occurrences of `rrule`
 * (an RFC 5545 RRULE value without the "RRULE:" prefix) whose DTSTART is
 * `start_date` ("YYYY-MM-DD") at handoff_seconds after local midnight in
 * time_zone.  COUNT and UNTIL are honoured (no handoff after the last: the
 * last participant stays on call).  Refused with OB_EINVAL and a one-line
 * reason: an RRULE libical cannot parse, FREQ finer than hourly, an unknown
 * time zone, a malformed date, a rule with no occurrence at all.
 */
int rotation_compile(const char *rrule, const char *start_date, uint32_t handoff_seconds,
                     const char *time_zone, struct rotation **out, struct ob_error *err);
void rotation_free(struct rotation *rot); /* accepts NULL */

/*
 * The handoff in force at at_ms: *index receives the 0-based number of the
 * occurrence (so the participant is users[index % user_count]), *start_ms
 * and *end_ms its instant and the next one's (INT64_MAX when there is no
 * next).  OB_ENOTFOUND when at_ms is before the first handoff.
 */
int rotation_at(struct rotation *rot, int64_t at_ms, int64_t *index, int64_t *start_ms,
                int64_t *end_ms, struct ob_error *err);

/* 1 when libical knows this IANA time zone name, else 0. */
int oncall_time_zone_known(const char *tz);

/* ---- schedules ------------------------------------------------------------------ */

/* An override as stored (schedule_overrides): `user` is on call for the
 * whole schedule from start_ms to end_ms, replacing whoever would be. */
struct schedule_override {
    int64_t id;
    const char *user; /* borrowed */
    int64_t start_ms;
    int64_t end_ms;
};

/* One stretch of time with one person (or nobody) on call. */
#define SHIFT_LAYER_OVERRIDE (-1)
#define SHIFT_LAYER_NONE     (-2) /* a gap: nobody on call */
struct shift {
    int64_t start_ms;
    int64_t end_ms;
    const char *user;    /* borrowed; NULL = nobody on call */
    int layer;           /* index of the layer it came from; -1 = an override; -2 = a gap */
    int64_t override_id; /* when layer == -1, else 0 */
};

/*
 * The final timeline of a schedule over [from_ms, until_ms): layers applied
 * bottom to top (a higher layer wins wherever it has somebody), then the
 * overrides (any order; they must not overlap, see schedule_overrides_overlap),
 * adjacent stretches of the same user (and same origin) merged.  Gaps with nobody
 * on call are included as shifts with user NULL, so the result covers
 * [from_ms, until_ms) exactly, sorted, clipped to the window.
 * until_ms - from_ms must not exceed ONCALL_MAX_WINDOW_MS (OB_EINVAL).
 */
#define ONCALL_MAX_WINDOW_MS (400LL * 24 * 3600 * 1000)
int schedule_timeline(const struct config_schedule *sched, const struct schedule_override *ovr,
                      size_t n_ovr, int64_t from_ms, int64_t until_ms, struct shift **out,
                      size_t *count, struct ob_error *err);

/*
 * Who is on call at at_ms: *now is the shift containing it, with its true
 * start and end (looked for up to ONCALL_LOOK_MS either side; a shift longer
 * than that is reported clipped), and *next the following shift with
 * somebody on call (user NULL when none within ONCALL_LOOK_MS).  The
 * overrides must cover [at_ms - ONCALL_LOOK_MS, at_ms + ONCALL_LOOK_MS).
 */
#define ONCALL_LOOK_MS (62LL * 24 * 3600 * 1000)
int schedule_oncall_at(const struct config_schedule *sched, const struct schedule_override *ovr,
                       size_t n_ovr, int64_t at_ms, struct shift *now, struct shift *next,
                       struct ob_error *err);

/*
 * Only who is on call at at_ms (no shift bounds): the override in force,
 * else the highest layer with somebody on call inside its restrictions,
 * else NULL.  The same answer as schedule_oncall_at()'s now->user, at a
 * fraction of the cost (a binary search per layer): the engine asks it for
 * every escalation step that targets a schedule.
 */
int schedule_user_at(const struct config_schedule *sched, const struct schedule_override *ovr,
                     size_t n_ovr, int64_t at_ms, const char **user, struct ob_error *err);

/* 1 when two of the overrides overlap in time (a new override must not
 * overlap the existing ones of its schedule), else 0. */
int schedule_overrides_overlap(const struct schedule_override *ovr, size_t n_ovr);

/*
 * Parse a user-supplied instant: RFC 3339 ("2026-03-08T01:30:00-05:00",
 * "2026-03-08T06:30:00Z", fractional seconds allowed), a local date-time
 * without offset interpreted in `time_zone` ("2026-03-08T01:30" or
 * "2026-03-08 01:30"), "now", or now plus/minus a duration ("+2h", "-30m",
 * "+1d").  OB_EINVAL with a one-line reason otherwise.
 */
int oncall_parse_time(const char *text, const char *time_zone, int64_t now_ms, int64_t *out_ms,
                      struct ob_error *err);

/* ---- iCalendar export ----------------------------------------------------------- */

/*
 * Render shifts as one VCALENDAR (RFC 5545, built with libical): one VEVENT
 * per shift that has a user, DTSTART/DTEND in UTC, SUMMARY "On call:
 * <schedule> (<user>)", a stable UID "<schedule>-<user>-<start>@opsbell",
 * DTSTAMP now_ms.  calendar_name goes to X-WR-CALNAME.  shifts may come from
 * several schedules: schedule_names[i] names shifts[i]'s schedule.
 * *out is a malloc'd NUL-terminated string (CRLF line ends).
 */
int ical_render(const char *calendar_name, const struct shift *shifts,
                const char *const *schedule_names, size_t n, int64_t now_ms, char **out,
                struct ob_error *err);

#endif
