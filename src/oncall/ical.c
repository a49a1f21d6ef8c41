/*
 * ical.c - ical_render(): shifts as one VCALENDAR, built with libical.
 */
#include "oncall/internal.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct icaltimetype ical_utc(int64_t ms)
{
    if (ms < ONCALL_MIN_MS)
        ms = ONCALL_MIN_MS;
    if (ms > ONCALL_MAX_MS)
        ms = ONCALL_MAX_MS;
    return icaltime_from_timet_with_zone((time_t)(ms / 1000), 0, icaltimezone_get_utc_timezone());
}

/* A copy with control characters (line breaks) replaced by spaces. */
static char *ical_clean(const char *s)
{
    char *c = strdup(s != NULL ? s : "");

    for (char *p = c; p != NULL && *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return c;
}

static int ical_add_event(icalcomponent *cal, const struct shift *s, const char *schedule,
                          struct icaltimetype stamp)
{
    struct icaltimetype start = ical_utc(s->start_ms), end = ical_utc(s->end_ms);
    icalcomponent *ev = icalcomponent_new_vevent();
    char uid[256], summary[256];
    char *clean_sched, *clean_user;

    if (ev == NULL)
        return OB_ENOMEM;
    clean_sched = ical_clean(schedule);
    clean_user = ical_clean(s->user);
    if (clean_sched == NULL || clean_user == NULL) {
        free(clean_sched);
        free(clean_user);
        icalcomponent_free(ev);
        return OB_ENOMEM;
    }
    snprintf(uid, sizeof(uid), "%s-%s-%04d%02d%02dT%02d%02d%02dZ@opsbell", clean_sched, clean_user,
             start.year, start.month, start.day, start.hour, start.minute, start.second);
    snprintf(summary, sizeof(summary), "On call: %s (%s)", clean_sched, clean_user);
    free(clean_sched);
    free(clean_user);
    icalcomponent_add_property(ev, icalproperty_new_uid(uid));
    icalcomponent_add_property(ev, icalproperty_new_dtstamp(stamp));
    icalcomponent_add_property(ev, icalproperty_new_dtstart(start));
    icalcomponent_add_property(ev, icalproperty_new_dtend(end));
    icalcomponent_add_property(ev, icalproperty_new_summary(summary));
    icalcomponent_add_property(ev, icalproperty_new_transp(ICAL_TRANSP_OPAQUE));
    icalcomponent_add_component(cal, ev);
    return 0;
}

int ical_render(const char *calendar_name, const struct shift *shifts,
                const char *const *schedule_names, size_t n, int64_t now_ms, char **out,
                struct ob_error *err)
{
    icalcomponent *cal = NULL;
    icalproperty *name;
    char *text = NULL, *clean = NULL;
    int rc = 0;

    *out = NULL;
    oncall_ical_lock();
    cal = icalcomponent_new_vcalendar();
    clean = ical_clean(calendar_name);
    if (cal == NULL || clean == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    icalcomponent_add_property(cal, icalproperty_new_prodid("-//opsbell//on-call schedules//EN"));
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
    icalcomponent_add_property(cal, icalproperty_new_method(ICAL_METHOD_PUBLISH));
    name = icalproperty_new_x(clean);
    if (name == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    icalproperty_set_x_name(name, "X-WR-CALNAME");
    icalcomponent_add_property(cal, name);
    for (size_t i = 0; i < n; i++) {
        if (shifts[i].user == NULL || shifts[i].end_ms <= shifts[i].start_ms)
            continue;
        rc = ical_add_event(cal, &shifts[i], schedule_names[i], ical_utc(now_ms));
        if (rc != 0)
            goto out;
    }
    text = icalcomponent_as_ical_string_r(cal);
    if (text == NULL) {
        rc = ob_fail(err, OB_EINTERNAL, "libical could not render the calendar");
        goto out;
    }
    *out = strdup(text);
    if (*out == NULL)
        rc = OB_ENOMEM;
out:
    if (text != NULL)
        icalmemory_free_buffer(text);
    if (cal != NULL)
        icalcomponent_free(cal);
    oncall_ical_unlock();
    free(clean);
    return rc;
}
