/*
 * test_schedule.c - rotations (daily, weekly, every N days, weekdays, month
 * ends, COUNT/UNTIL), daylight-saving changes in New York and Berlin, Tokyo,
 * layers, restrictions (follow the sun), overrides, gaps, who is on call now
 * and next, parsing user-typed times, and the iCalendar export read back with
 * libical.  Every expected instant is worked out by hand in a comment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "oncall/schedule.h"
#include "util/error.h"

#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-01T00:00:00Z is 1767225600 s; JAN(d) is 00:00Z on January d. */
#define DAY      86400LL
#define HOUR     3600LL
#define JAN(d)   (1767225600LL + ((d)-1) * DAY)
#define MS(s)    ((int64_t)(s)*1000)
#define MAR28    1774656000LL /* 2026-03-28T00:00Z: JAN(1) + 86 days */
#define MAR07    1772841600LL /* 2026-03-07T00:00Z: JAN(1) + 65 days */
#define OCT24    1792800000LL /* 2026-10-24T00:00Z: JAN(1) + 296 days */
#define OCT31    1793404800LL /* 2026-10-31T00:00Z: OCT24 + 7 days */
#define MAX_LAYS 4

/* ---- helpers ------------------------------------------------------------------ */

struct fixture {
    struct config_schedule sched;
    struct config_schedule_layer layers[MAX_LAYS];
    char *users[MAX_LAYS][4];
    struct config_restriction res[MAX_LAYS][2];
};

static struct rotation *compile(const char *rrule, const char *start, uint32_t handoff,
                                const char *tz)
{
    struct rotation *rot = NULL;
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = rotation_compile(rrule, start, handoff, tz, &rot, &err);
    if (rc != 0)
        fprintf(stderr, "rotation_compile: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return rot;
}

/* Layer li: rrule from start at handoff in tz, users a space-separated list. */
static void add_layer(struct fixture *fx, const char *rrule, const char *start, uint32_t handoff,
                      const char *tz, const char *users)
{
    unsigned li = fx->sched.layer_count++;
    struct config_schedule_layer *l = &fx->layers[li];
    char buf[128];
    char *save = NULL;

    assert_true(li < MAX_LAYS);
    fx->sched.layers = fx->layers;
    fx->sched.name = "payments";
    l->name = "layer";
    l->rotation = compile(rrule, start, handoff, tz);
    snprintf(buf, sizeof(buf), "%s", users);
    for (char *u = strtok_r(buf, " ", &save); u != NULL; u = strtok_r(NULL, " ", &save)) {
        fx->users[li][l->user_count] = strdup(u);
        l->user_count++;
    }
    l->users = fx->users[li];
}

static void add_restriction(struct fixture *fx, unsigned li, uint8_t days, uint32_t from,
                            uint32_t to)
{
    struct config_schedule_layer *l = &fx->layers[li];

    fx->res[li][l->restriction_count] = (struct config_restriction){days, from, to};
    l->restrictions = fx->res[li];
    l->restriction_count++;
}

static void fixture_release(struct fixture *fx)
{
    for (unsigned li = 0; li < fx->sched.layer_count; li++) {
        rotation_free(fx->layers[li].rotation);
        for (unsigned u = 0; u < fx->layers[li].user_count; u++)
            free(fx->users[li][u]);
    }
}

static void expect_at(struct rotation *rot, int64_t at_s, int64_t index, int64_t start_s,
                      int64_t end_s)
{
    int64_t i = -1, s = 0, e = 0;

    assert_int_equal(rotation_at(rot, MS(at_s), &i, &s, &e, NULL), 0);
    assert_int_equal(i, index);
    assert_int_equal(s, MS(start_s));
    if (end_s == INT64_MAX)
        assert_true(e == INT64_MAX);
    else
        assert_int_equal(e, MS(end_s));
}

static void expect_shift(const struct shift *s, int64_t start_s, int64_t end_s, const char *user,
                         int layer)
{
    assert_int_equal(s->start_ms, MS(start_s));
    assert_int_equal(s->end_ms, MS(end_s));
    if (user == NULL)
        assert_null(s->user);
    else
        assert_string_equal(s->user, user);
    assert_int_equal(s->layer, layer);
}

static void refuse(const char *rrule, const char *start, const char *tz, const char *needle)
{
    struct rotation *rot = NULL;
    struct ob_error err;

    ob_error_clear(&err);
    assert_int_equal(rotation_compile(rrule, start, 9 * 3600, tz, &rot, &err), OB_EINVAL);
    assert_null(rot);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("'%s' does not contain '%s'", err.msg, needle);
}

/* ---- rotations ------------------------------------------------------------------ */

static void test_weekly_utc(void **state)
{
    /* First handoff Monday 2026-01-05 09:00Z = JAN(5) + 9h. */
    struct rotation *rot = compile("FREQ=WEEKLY", "2026-01-05", 9 * 3600, "UTC");
    int64_t i, s, e;

    (void)state;
    assert_int_equal(rotation_at(rot, MS(JAN(5) + 9 * HOUR - 1), &i, &s, &e, NULL), OB_ENOTFOUND);
    expect_at(rot, JAN(5) + 9 * HOUR, 0, JAN(5) + 9 * HOUR, JAN(12) + 9 * HOUR);
    /* Wednesday 14th noon: second week (bob), Jan 12 09:00 .. Jan 19 09:00. */
    expect_at(rot, JAN(14) + 12 * HOUR, 1, JAN(12) + 9 * HOUR, JAN(19) + 9 * HOUR);
    /* A year later: 52 weeks after Jan 5 2026 is Jan 4 2027 (index 52). */
    expect_at(rot, JAN(5) + 365 * DAY, 52, JAN(5) + 364 * DAY + 9 * HOUR,
              JAN(5) + 371 * DAY + 9 * HOUR);
    rotation_free(rot);
}

static void test_daily_and_every_n_days(void **state)
{
    struct rotation *daily = compile("FREQ=DAILY", "2026-01-01", 0, "UTC");
    struct rotation *every3 = compile("FREQ=DAILY;INTERVAL=3", "2026-01-01", 12 * 3600, "UTC");

    (void)state;
    /* Midnight handoffs: Jan 10 00:00Z is the 10th occurrence (index 9). */
    expect_at(daily, JAN(10), 9, JAN(10), JAN(11));
    expect_at(daily, JAN(10) - 1, 8, JAN(9), JAN(10));
    /* Every 3 days at noon: Jan 1, 4, 7 ...; Jan 5 is in the Jan 4 shift. */
    expect_at(every3, JAN(5), 1, JAN(4) + 12 * HOUR, JAN(7) + 12 * HOUR);
    rotation_free(daily);
    rotation_free(every3);
}

static void test_weekdays_only(void **state)
{
    /* Mon Jan 5 .. Fri Jan 9, then Mon Jan 12: Friday's shift lasts 3 days. */
    struct rotation *rot =
        compile("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "2026-01-05", 9 * 3600, "UTC");

    (void)state;
    expect_at(rot, JAN(11) + 12 * HOUR, 4, JAN(9) + 9 * HOUR, JAN(12) + 9 * HOUR);
    expect_at(rot, JAN(12) + 9 * HOUR, 5, JAN(12) + 9 * HOUR, JAN(13) + 9 * HOUR);
    rotation_free(rot);
    /* DTSTART on a Saturday that the rule excludes: the first handoff is Monday. */
    rot = compile("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "2026-01-03", 9 * 3600, "UTC");
    expect_at(rot, JAN(5) + 9 * HOUR, 0, JAN(5) + 9 * HOUR, JAN(6) + 9 * HOUR);
    rotation_free(rot);
}

static void test_month_ends(void **state)
{
    /* Last day of each month 00:00Z: Jan 31 = JAN(31), Feb 28 = JAN(59),
     * Mar 31 = JAN(90). */
    struct rotation *last = compile("FREQ=MONTHLY;BYMONTHDAY=-1", "2026-01-01", 0, "UTC");
    /* The 1st of each month at 00:00: Feb 1 = JAN(32), Mar 1 = JAN(60). */
    struct rotation *first = compile("FREQ=MONTHLY", "2026-01-01", 0, "UTC");

    (void)state;
    expect_at(last, JAN(31), 0, JAN(31), JAN(59));
    expect_at(last, JAN(59) + 1, 1, JAN(59), JAN(90));
    expect_at(first, JAN(32), 1, JAN(32), JAN(60));
    expect_at(first, JAN(60) - 1, 1, JAN(32), JAN(60));
    rotation_free(last);
    rotation_free(first);
}

static void test_count_and_until(void **state)
{
    struct rotation *count = compile("FREQ=WEEKLY;COUNT=2", "2026-01-05", 9 * 3600, "UTC");
    struct rotation *until =
        compile("FREQ=WEEKLY;UNTIL=20260112T090000Z", "2026-01-05", 9 * 3600, "UTC");
    struct rotation *before =
        compile("FREQ=WEEKLY;UNTIL=20260112T085959Z", "2026-01-05", 9 * 3600, "UTC");
    /* UNTIL in UTC with a Berlin rotation: Jan 12 09:00 CET = 08:00Z, included. */
    struct rotation *berlin =
        compile("FREQ=WEEKLY;UNTIL=20260112T080000Z", "2026-01-05", 9 * 3600, "Europe/Berlin");
    /* UNTIL as a date: the occurrence on that date is included. */
    struct rotation *date = compile("FREQ=DAILY;UNTIL=20260107", "2026-01-05", 9 * 3600, "UTC");

    (void)state;
    /* The last participant stays on call for good. */
    expect_at(count, JAN(30), 1, JAN(12) + 9 * HOUR, INT64_MAX);
    expect_at(until, JAN(30), 1, JAN(12) + 9 * HOUR, INT64_MAX);
    expect_at(before, JAN(30), 0, JAN(5) + 9 * HOUR, INT64_MAX);
    expect_at(berlin, JAN(30), 1, JAN(12) + 8 * HOUR, INT64_MAX);
    expect_at(date, JAN(30), 2, JAN(7) + 9 * HOUR, INT64_MAX);
    rotation_free(count);
    rotation_free(until);
    rotation_free(before);
    rotation_free(berlin);
    rotation_free(date);
}

static void test_dst_berlin(void **state)
{
    struct rotation *rot = compile("FREQ=DAILY", "2026-03-01", 9 * 3600, "Europe/Berlin");
    struct rotation *gap = compile("FREQ=DAILY", "2026-03-28", 2 * 3600 + 1800, "Europe/Berlin");

    (void)state;
    /* Spring forward Sunday 2026-03-29 02:00 CET -> 03:00 CEST.
     * Mar 28 09:00 CET = 08:00Z; Mar 29 09:00 CEST = 07:00Z: a 23-hour shift. */
    expect_at(rot, MAR28 + 12 * HOUR, 27, MAR28 + 8 * HOUR, MAR28 + DAY + 7 * HOUR);
    /* Mar 30 09:00 CEST = 07:00Z: back to 24 hours. */
    expect_at(rot, MAR28 + DAY + 12 * HOUR, 28, MAR28 + DAY + 7 * HOUR, MAR28 + 2 * DAY + 7 * HOUR);
    /* Fall back Sunday 2026-10-25 03:00 CEST -> 02:00 CET.
     * Oct 24 09:00 CEST = 07:00Z; Oct 25 09:00 CET = 08:00Z: 25 hours. */
    {
        int64_t i, s, e;
        assert_int_equal(rotation_at(rot, MS(OCT24 + 12 * HOUR), &i, &s, &e, NULL), 0);
        assert_int_equal(s, MS(OCT24 + 7 * HOUR));
        assert_int_equal(e, MS(OCT24 + DAY + 8 * HOUR));
        assert_int_equal(e - s, MS(25 * HOUR));
    }
    /* 02:30 does not exist on Mar 29: read with the offset before the gap
     * (+01:00), i.e. 01:30Z (03:30 CEST).  The days around keep 02:30:
     * Mar 28 02:30 CET = 01:30Z, Mar 30 02:30 CEST = 00:30Z. */
    expect_at(gap, MAR28 + 2 * HOUR, 0, MAR28 + HOUR + 1800, MAR28 + DAY + HOUR + 1800);
    expect_at(gap, MAR28 + DAY + 2 * HOUR, 1, MAR28 + DAY + HOUR + 1800, MAR28 + 2 * DAY + 1800);
    rotation_free(rot);
    rotation_free(gap);
}

static void test_dst_new_york(void **state)
{
    struct rotation *rot = compile("FREQ=DAILY", "2026-03-01", 9 * 3600, "America/New_York");
    struct rotation *twice = compile("FREQ=DAILY", "2026-10-30", 3600 + 1800, "America/New_York");
    int64_t i, s, e;

    (void)state;
    /* Spring forward Sunday 2026-03-08 02:00 EST -> 03:00 EDT.
     * Mar 7 09:00 EST = 14:00Z; Mar 8 09:00 EDT = 13:00Z: 23 hours. */
    assert_int_equal(rotation_at(rot, MS(MAR07 + 20 * HOUR), &i, &s, &e, NULL), 0);
    assert_int_equal(i, 6);
    assert_int_equal(s, MS(MAR07 + 14 * HOUR));
    assert_int_equal(e, MS(MAR07 + DAY + 13 * HOUR));
    assert_int_equal(e - s, MS(23 * HOUR));
    /* Fall back Sunday 2026-11-01 02:00 EDT -> 01:00 EST.
     * Oct 31 09:00 EDT = 13:00Z; Nov 1 09:00 EST = 14:00Z: 25 hours. */
    assert_int_equal(rotation_at(rot, MS(OCT31 + 20 * HOUR), &i, &s, &e, NULL), 0);
    assert_int_equal(s, MS(OCT31 + 13 * HOUR));
    assert_int_equal(e, MS(OCT31 + DAY + 14 * HOUR));
    assert_int_equal(e - s, MS(25 * HOUR));
    /* 01:30 happens twice on Nov 1: the first one (EDT) = 05:30Z.
     * Oct 31 01:30 EDT = 05:30Z; Nov 2 01:30 EST = 06:30Z. */
    expect_at(twice, OCT31 + 6 * HOUR, 1, OCT31 + 5 * HOUR + 1800, OCT31 + DAY + 5 * HOUR + 1800);
    expect_at(twice, OCT31 + DAY + 6 * HOUR, 2, OCT31 + DAY + 5 * HOUR + 1800,
              OCT31 + 2 * DAY + 6 * HOUR + 1800);
    rotation_free(rot);
    rotation_free(twice);
}

static void test_tokyo(void **state)
{
    /* +09:00 all year: 09:00 JST = 00:00Z, in January and in July
     * (JAN(182) = 2026-07-01). */
    struct rotation *rot = compile("FREQ=DAILY", "2026-01-01", 9 * 3600, "Asia/Tokyo");

    (void)state;
    expect_at(rot, JAN(1) + HOUR, 0, JAN(1), JAN(2));
    expect_at(rot, JAN(182) + HOUR, 181, JAN(182), JAN(183));
    rotation_free(rot);
}

static void test_compile_refusals(void **state)
{
    (void)state;
    refuse("FREQ=BOGUS", "2026-01-05", "UTC", "cannot parse");
    refuse("", "2026-01-05", "UTC", "empty RRULE");
    refuse("FREQ=MINUTELY", "2026-01-05", "UTC", "finer than hourly");
    refuse("FREQ=SECONDLY", "2026-01-05", "UTC", "finer than hourly");
    refuse("FREQ=DAILY;BYMINUTE=5", "2026-01-05", "UTC", "BYMINUTE");
    refuse("FREQ=WEEKLY", "2026-01-05", "Mars/Olympus_Mons", "unknown time zone");
    refuse("FREQ=WEEKLY", "2026-01-05", "../../etc/passwd", "unknown time zone");
    refuse("FREQ=WEEKLY", "2026-02-30", "UTC", "start date");
    refuse("FREQ=WEEKLY", "5 Jan 2026", "UTC", "start date");
    refuse("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "2026-01-05", "UTC", "libical refuses");
    refuse("FREQ=WEEKLY;UNTIL=20251231", "2026-01-05", "UTC", "no occurrence");
    refuse("FREQ=WEEKLY;COUNT=2;UNTIL=20260301", "2026-01-05", "UTC", "cannot parse");
    assert_true(oncall_time_zone_known("UTC"));
    assert_true(oncall_time_zone_known("Europe/Berlin"));
    assert_false(oncall_time_zone_known("Europe/Atlantis"));
    assert_false(oncall_time_zone_known(NULL));
}

static void test_hourly_cap(void **state)
{
    /* Hourly is allowed; 200,000 handoffs is about 22.8 years. */
    struct rotation *rot = compile("FREQ=HOURLY", "2026-01-01", 0, "UTC");
    int64_t i, s, e;
    struct ob_error err;

    (void)state;
    expect_at(rot, JAN(2) + 30 * 60, 24, JAN(2), JAN(2) + HOUR);
    ob_error_clear(&err);
    assert_int_equal(rotation_at(rot, MS(JAN(1) + 30LL * 365 * DAY), &i, &s, &e, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, "200000"));
    rotation_free(rot);
}

/* ---- schedules ------------------------------------------------------------------ */

/* Weekly ann/bob from Mon Jan 5 09:00Z; on top, carol on weekdays 09-17. */
static void business_hours(struct fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    add_layer(fx, "FREQ=WEEKLY", "2026-01-05", 9 * 3600, "UTC", "ann bob");
    add_layer(fx, "FREQ=DAILY", "2026-01-05", 9 * 3600, "UTC", "carol");
    add_restriction(fx, 1, 0x1f, 9 * 3600, 17 * 3600);
}

static void test_layers_and_gaps(void **state)
{
    struct fixture fx;
    struct shift *sh = NULL;
    size_t n = 0;

    (void)state;
    business_hours(&fx);
    assert_int_equal(schedule_timeline(&fx.sched, NULL, 0, MS(JAN(5)), MS(JAN(7)), &sh, &n, NULL),
                     0);
    assert_int_equal(n, 5);
    /* Before the first handoff nobody is on call. */
    expect_shift(&sh[0], JAN(5), JAN(5) + 9 * HOUR, NULL, SHIFT_LAYER_NONE);
    expect_shift(&sh[1], JAN(5) + 9 * HOUR, JAN(5) + 17 * HOUR, "carol", 1);
    expect_shift(&sh[2], JAN(5) + 17 * HOUR, JAN(6) + 9 * HOUR, "ann", 0);
    expect_shift(&sh[3], JAN(6) + 9 * HOUR, JAN(6) + 17 * HOUR, "carol", 1);
    expect_shift(&sh[4], JAN(6) + 17 * HOUR, JAN(7), "ann", 0);
    free(sh);
    /* The weekend (Sat Jan 10, Sun Jan 11) is ann's alone, merged into one
     * shift from Fri 17:00 to Mon 09:00. */
    assert_int_equal(schedule_timeline(&fx.sched, NULL, 0, MS(JAN(9)), MS(JAN(13)), &sh, &n, NULL),
                     0);
    assert_int_equal(n, 5);
    expect_shift(&sh[0], JAN(9), JAN(9) + 9 * HOUR, "ann", 0);
    expect_shift(&sh[2], JAN(9) + 17 * HOUR, JAN(12) + 9 * HOUR, "ann", 0);
    expect_shift(&sh[3], JAN(12) + 9 * HOUR, JAN(12) + 17 * HOUR, "carol", 1);
    expect_shift(&sh[4], JAN(12) + 17 * HOUR, JAN(13), "bob", 0);
    free(sh);
    fixture_release(&fx);
}

static void test_follow_the_sun(void **state)
{
    struct fixture fx;
    struct shift *sh = NULL;
    size_t n = 0;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    /* Tokyo covers 09:00-21:00 JST = 00:00Z-12:00Z; London (UTC+0 in
     * January) covers 12:00-24:00 local = 12:00Z-24:00Z ("to" before
     * "from" would also wrap; 12:00-00:00 ends at the next midnight). */
    add_layer(&fx, "FREQ=WEEKLY", "2026-01-05", 0, "Asia/Tokyo", "aiko");
    add_restriction(&fx, 0, 0x7f, 9 * 3600, 21 * 3600);
    add_layer(&fx, "FREQ=WEEKLY", "2026-01-05", 0, "Europe/London", "liam");
    add_restriction(&fx, 1, 0x7f, 12 * 3600, 0);
    assert_int_equal(schedule_timeline(&fx.sched, NULL, 0, MS(JAN(6)), MS(JAN(8)), &sh, &n, NULL),
                     0);
    assert_int_equal(n, 4);
    expect_shift(&sh[0], JAN(6), JAN(6) + 12 * HOUR, "aiko", 0);
    expect_shift(&sh[1], JAN(6) + 12 * HOUR, JAN(7), "liam", 1);
    expect_shift(&sh[2], JAN(7), JAN(7) + 12 * HOUR, "aiko", 0);
    expect_shift(&sh[3], JAN(7) + 12 * HOUR, JAN(8), "liam", 1);
    free(sh);
    fixture_release(&fx);
}

static void test_overrides(void **state)
{
    struct fixture fx;
    struct shift *sh = NULL;
    size_t n = 0;
    struct schedule_override ovr[] = {
        {7, "dave", MS(JAN(6) + 12 * HOUR), MS(JAN(6) + 20 * HOUR)},
    };

    (void)state;
    business_hours(&fx);
    assert_int_equal(schedule_timeline(&fx.sched, ovr, 1, MS(JAN(6)), MS(JAN(7)), &sh, &n, NULL),
                     0);
    /* ann until 09:00, carol 09-12, dave 12-20 (replacing carol and ann),
     * ann again 20-24. */
    assert_int_equal(n, 4);
    expect_shift(&sh[0], JAN(6), JAN(6) + 9 * HOUR, "ann", 0);
    expect_shift(&sh[1], JAN(6) + 9 * HOUR, JAN(6) + 12 * HOUR, "carol", 1);
    expect_shift(&sh[2], JAN(6) + 12 * HOUR, JAN(6) + 20 * HOUR, "dave", SHIFT_LAYER_OVERRIDE);
    assert_int_equal(sh[2].override_id, 7);
    expect_shift(&sh[3], JAN(6) + 20 * HOUR, JAN(7), "ann", 0);
    free(sh);
    fixture_release(&fx);
}

static void test_overlap(void **state)
{
    struct schedule_override a[] = {{1, "ann", 0, 10}, {2, "bob", 10, 20}, {3, "eve", 30, 40}};
    struct schedule_override b[] = {{1, "ann", 30, 40}, {2, "bob", 0, 10}, {3, "eve", 5, 15}};

    (void)state;
    assert_int_equal(schedule_overrides_overlap(a, 3), 0);
    assert_int_equal(schedule_overrides_overlap(b, 3), 1);
    assert_int_equal(schedule_overrides_overlap(NULL, 0), 0);
}

static void test_oncall_at(void **state)
{
    struct fixture fx;
    struct shift now, next;
    struct schedule_override ovr[] = {
        {9, "dave", MS(JAN(12) + 9 * HOUR), MS(JAN(12) + 10 * HOUR)},
    };

    (void)state;
    business_hours(&fx);
    /* Saturday Jan 10 noon: ann since Fri 17:00 until Mon 09:00, then carol. */
    assert_int_equal(
        schedule_oncall_at(&fx.sched, NULL, 0, MS(JAN(10) + 12 * HOUR), &now, &next, NULL), 0);
    expect_shift(&now, JAN(9) + 17 * HOUR, JAN(12) + 9 * HOUR, "ann", 0);
    expect_shift(&next, JAN(12) + 9 * HOUR, JAN(12) + 17 * HOUR, "carol", 1);
    /* With dave overriding Monday 09-10, he is next. */
    assert_int_equal(
        schedule_oncall_at(&fx.sched, ovr, 1, MS(JAN(10) + 12 * HOUR), &now, &next, NULL), 0);
    expect_shift(&next, JAN(12) + 9 * HOUR, JAN(12) + 10 * HOUR, "dave", SHIFT_LAYER_OVERRIDE);
    /* Before the first handoff: a gap since at least 62 days, ann next. */
    assert_int_equal(schedule_oncall_at(&fx.sched, NULL, 0, MS(JAN(5)), &now, &next, NULL), 0);
    assert_null(now.user);
    assert_int_equal(now.end_ms, MS(JAN(5) + 9 * HOUR));
    expect_shift(&next, JAN(5) + 9 * HOUR, JAN(5) + 17 * HOUR, "carol", 1);
    /* Many look-ups stay cheap (the handoffs are cached). */
    for (int k = 0; k < 2000; k++)
        assert_int_equal(
            schedule_oncall_at(&fx.sched, NULL, 0, MS(JAN(10) + k * 600), &now, &next, NULL), 0);
    fixture_release(&fx);
}

/* schedule_user_at answers what the timeline says, at every instant of a
 * fortnight (every 7 minutes), with layers, restrictions in two zones and
 * an override. */
static void test_user_at_agrees_with_the_timeline(void **state)
{
    struct fixture fx;
    struct shift *sh = NULL;
    size_t n = 0, k = 0;
    struct schedule_override ovr[] = {
        {4, "dave", MS(JAN(8) + 3 * HOUR), MS(JAN(9) + 11 * HOUR)},
    };

    (void)state;
    business_hours(&fx);
    add_layer(&fx, "FREQ=DAILY;INTERVAL=2", "2026-01-03", 22 * 3600, "America/New_York",
              "nina omar");
    add_restriction(&fx, 2, 0x60, 20 * 3600, 6 * 3600); /* Sat, Sun nights */
    assert_int_equal(schedule_timeline(&fx.sched, ovr, 1, MS(JAN(1)), MS(JAN(15)), &sh, &n, NULL),
                     0);
    for (int64_t t = JAN(1); t < JAN(15); t += 7 * 60) {
        const char *user = (const char *)1;
        while (k < n && sh[k].end_ms <= MS(t))
            k++;
        assert_true(k < n);
        assert_int_equal(schedule_user_at(&fx.sched, ovr, 1, MS(t), &user, NULL), 0);
        if (sh[k].user == NULL || user == NULL) {
            if (sh[k].user != user)
                fail_msg("at %lld: timeline %s, user_at %s", (long long)t,
                         sh[k].user ? sh[k].user : "nobody", user ? user : "nobody");
        } else {
            assert_string_equal(user, sh[k].user);
        }
    }
    free(sh);
    fixture_release(&fx);
}

static void test_timeline_refusals(void **state)
{
    struct fixture fx;
    struct shift *sh = NULL;
    size_t n = 0;

    (void)state;
    business_hours(&fx);
    assert_int_equal(schedule_timeline(&fx.sched, NULL, 0, MS(JAN(5)), MS(JAN(5)), &sh, &n, NULL),
                     OB_EINVAL);
    assert_int_equal(schedule_timeline(&fx.sched, NULL, 0, MS(JAN(1)), MS(JAN(1)) + MS(401 * DAY),
                                       &sh, &n, NULL),
                     OB_EINVAL);
    assert_null(sh);
    fixture_release(&fx);
}

/* ---- times ------------------------------------------------------------------ */

static void expect_time(const char *text, const char *tz, int64_t now, int64_t want)
{
    int64_t got = -1;
    struct ob_error err;

    ob_error_clear(&err);
    if (oncall_parse_time(text, tz, now, &got, &err) != 0)
        fail_msg("'%s': %s", text, err.msg);
    assert_int_equal(got, want);
}

static void test_parse_time(void **state)
{
    /* 2026-03-08T06:30:00Z = MAR07 + 1 day + 6.5 h. */
    const int64_t t = MS(MAR07 + DAY + 6 * HOUR + 1800);
    const int64_t now = MS(JAN(1));
    int64_t out;

    (void)state;
    expect_time("2026-03-08T01:30:00-05:00", "UTC", now, t);
    expect_time("2026-03-08T06:30:00Z", "UTC", now, t);
    expect_time("2026-03-08T07:30:00+01:00", "UTC", now, t);
    expect_time("2026-03-08T06:30:00.25Z", "UTC", now, t + 250);
    /* Local: 01:30 EST in New York. */
    expect_time("2026-03-08T01:30", "America/New_York", now, t);
    expect_time("2026-03-08 01:30", "America/New_York", now, t);
    expect_time("2026-03-08 06:30:00", "UTC", now, t);
    expect_time("now", "UTC", now, now);
    expect_time("+2h", "UTC", now, now + MS(2 * HOUR));
    expect_time("-30m", "UTC", now, now - MS(1800));
    expect_time("+1d", "UTC", now, now + MS(DAY));
    assert_int_equal(oncall_parse_time("2026-02-30T00:00Z", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("2026-03-08T25:00Z", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("2026-03-08T01:30+5", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("2026-03-08", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("yesterday", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("+2x", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("", "UTC", now, &out, NULL), OB_EINVAL);
    assert_int_equal(oncall_parse_time("2026-03-08T01:30", "Nope/Zone", now, &out, NULL),
                     OB_EINVAL);
}

/* ---- iCalendar ------------------------------------------------------------------ */

static void test_ical_render(void **state)
{
    const struct shift shifts[] = {
        {MS(JAN(5) + 9 * HOUR), MS(JAN(12) + 9 * HOUR), "ann", 0, 0},
        {MS(JAN(12) + 9 * HOUR), MS(JAN(13)), NULL, SHIFT_LAYER_NONE, 0},
        {MS(JAN(13)), MS(JAN(14)), "bob", SHIFT_LAYER_OVERRIDE, 3},
    };
    const char *names[] = {"payments", "payments", "db"};
    char *text = NULL;
    icalcomponent *cal, *ev;
    int events = 0;

    (void)state;
    assert_int_equal(ical_render("Payments on call", shifts, names, 3, MS(JAN(1)), &text, NULL), 0);
    assert_non_null(strstr(text, "BEGIN:VCALENDAR\r\n"));
    assert_non_null(strstr(text, "X-WR-CALNAME:Payments on call\r\n"));
    cal = icalparser_parse_string(text);
    assert_non_null(cal);
    assert_int_equal(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
    for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); ev != NULL;
         ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
        struct icaltimetype s = icalcomponent_get_dtstart(ev), e = icalcomponent_get_dtend(ev);
        assert_true(icaltime_is_utc(s));
        if (events == 0) {
            /* 2026-01-05T09:00:00Z .. 2026-01-12T09:00:00Z */
            assert_int_equal((int64_t)icaltime_as_timet(s), JAN(5) + 9 * HOUR);
            assert_int_equal((int64_t)icaltime_as_timet(e), JAN(12) + 9 * HOUR);
            assert_string_equal(icalcomponent_get_summary(ev), "On call: payments (ann)");
            assert_string_equal(icalcomponent_get_uid(ev), "payments-ann-20260105T090000Z@opsbell");
            assert_int_equal((int64_t)icaltime_as_timet(icalcomponent_get_dtstamp(ev)), JAN(1));
        } else {
            assert_int_equal((int64_t)icaltime_as_timet(s), JAN(13));
            assert_int_equal((int64_t)icaltime_as_timet(e), JAN(14));
            assert_string_equal(icalcomponent_get_summary(ev), "On call: db (bob)");
        }
        events++;
    }
    /* The gap has no event. */
    assert_int_equal(events, 2);
    icalcomponent_free(cal);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weekly_utc),
        cmocka_unit_test(test_daily_and_every_n_days),
        cmocka_unit_test(test_weekdays_only),
        cmocka_unit_test(test_month_ends),
        cmocka_unit_test(test_count_and_until),
        cmocka_unit_test(test_dst_berlin),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_tokyo),
        cmocka_unit_test(test_compile_refusals),
        cmocka_unit_test(test_hourly_cap),
        cmocka_unit_test(test_layers_and_gaps),
        cmocka_unit_test(test_follow_the_sun),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_oncall_at),
        cmocka_unit_test(test_user_at_agrees_with_the_timeline),
        cmocka_unit_test(test_timeline_refusals),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_ical_render),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
