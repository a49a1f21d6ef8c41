/*
 * time.c - oncall_parse_time(): the instants people type (RFC 3339, a local
 * date-time in a schedule's zone, "now", "+2h").  Calendar arithmetic is
 * libical's.
 */
#include "oncall/internal.h"

#include "config/config.h"
#include "util/error.h"

#include <string.h>

/* n digits at *p into *v; advances *p. */
static int time_digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return OB_EINVAL;
        *v = *v * 10 + (c - '0');
    }
    *p += n;
    return 0;
}

struct time_fields {
    struct icaltimetype t; /* floating wall time */
    int ms;                /* fraction of a second */
    int has_offset;
    int offset_seconds; /* east of UTC */
};

static int time_parse_fields(const char *text, struct time_fields *f)
{
    const char *p = text;
    int y, mo, d, h, mi, s = 0;

    memset(f, 0, sizeof(*f));
    if (time_digits(&p, 4, &y) != 0 || *p++ != '-' || time_digits(&p, 2, &mo) != 0 || *p++ != '-' ||
        time_digits(&p, 2, &d) != 0)
        return OB_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return OB_EINVAL;
    p++;
    if (time_digits(&p, 2, &h) != 0 || *p++ != ':' || time_digits(&p, 2, &mi) != 0)
        return OB_EINVAL;
    if (*p == ':') {
        p++;
        if (time_digits(&p, 2, &s) != 0)
            return OB_EINVAL;
        if (*p == '.') {
            int scale = 100, digits = 0;
            p++;
            while (*p >= '0' && *p <= '9') {
                f->ms += (*p - '0') * scale;
                scale /= 10;
                digits++;
                p++;
            }
            if (digits == 0 || digits > 9)
                return OB_EINVAL;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        f->has_offset = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (time_digits(&p, 2, &oh) != 0 || *p++ != ':' || time_digits(&p, 2, &om) != 0 ||
            oh > 23 || om > 59)
            return OB_EINVAL;
        f->has_offset = 1;
        f->offset_seconds = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0')
        return OB_EINVAL;
    if (y < 1970 || y > 2999 || mo < 1 || mo > 12 || d < 1 || d > icaltime_days_in_month(mo, y) ||
        h > 23 || mi > 59 || s > 60)
        return OB_EINVAL;
    if (s == 60)
        s = 59; /* a leap second: the instant before the next minute */
    f->t = icaltime_null_time();
    f->t.year = y;
    f->t.month = mo;
    f->t.day = d;
    f->t.hour = h;
    f->t.minute = mi;
    f->t.second = s;
    return 0;
}

int oncall_parse_time(const char *text, const char *time_zone, int64_t now_ms, int64_t *out_ms,
                      struct ob_error *err)
{
    struct time_fields f;
    icaltimezone *zone;
    int64_t seconds;

    if (text == NULL || text[0] == '\0')
        return ob_fail(err, OB_EINVAL, "empty time");
    if (strcmp(text, "now") == 0) {
        *out_ms = now_ms;
        return 0;
    }
    if (text[0] == '+' || text[0] == '-') {
        uint32_t d;
        if (config_parse_duration(text + 1, &d) != 0)
            return ob_fail(err, OB_EINVAL,
                           "invalid relative time '%.64s' (use e.g. +2h, -30m or +1d)", text);
        *out_ms = text[0] == '+' ? now_ms + (int64_t)d * 1000 : now_ms - (int64_t)d * 1000;
        return 0;
    }
    if (time_parse_fields(text, &f) != 0)
        return ob_fail(err, OB_EINVAL,
                       "invalid time '%.64s' (use RFC 3339 such as 2026-03-08T06:30:00Z, a local "
                       "2026-03-08T01:30, now, or +2h)",
                       text);
    oncall_ical_lock();
    if (f.has_offset) {
        f.t.zone = icaltimezone_get_utc_timezone();
        seconds = (int64_t)icaltime_as_timet(f.t) - f.offset_seconds;
        zone = icaltimezone_get_utc_timezone();
    } else {
        zone = oncall_zone_locked(time_zone != NULL ? time_zone : "UTC");
        seconds = zone != NULL ? oncall_local_to_utc_locked(f.t, zone) : 0;
    }
    oncall_ical_unlock();
    if (zone == NULL)
        return ob_fail(err, OB_EINVAL, "unknown time zone '%.64s'", time_zone);
    *out_ms = seconds * 1000 + f.ms;
    return 0;
}
