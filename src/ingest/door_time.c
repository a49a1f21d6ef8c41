/*
 * door_time.c - RFC 3339 timestamps of the doors, to and from milliseconds
 * since the epoch (UTC).
 *
 * Accepted: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), with T and Z in
 * either case (RFC 3339 section 5.6 lets them be lower case), a fraction of
 * any number of digits (kept to the millisecond, truncated) and a leap
 * second :60 (counted as the next second, as timegm does). Nothing else:
 * no space instead of T, no missing offset, no week or ordinal dates.
 * Go's zero time "0001-01-01T00:00:00Z", which Alertmanager sends for "not
 * set", is 0.
 */
#include "ingest/door.h"
#include "ingest/door_internal.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Go's time.Time{} in milliseconds since the epoch. */
#define GO_ZERO_TIME_MS INT64_C(-62135596800000)

/* Read exactly n digits at *p into *value. */
static int read_digits(const char **p, int n, int *value)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *value = v;
    return 0;
}

static int is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month == 2 && is_leap(year))
        return 29;
    return days[month - 1];
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

int door_parse_time_ex(const char *text, unsigned flags, int64_t *ms_out)
{
    const char *p = text;
    int year, month, day, hour, minute, second;
    int millis = 0;
    int offset_s = 0;
    struct tm tm;
    time_t secs;
    int64_t ms;

    if (text == NULL)
        return OB_EINVAL;
    if (read_digits(&p, 4, &year) != 0 || expect(&p, '-') != 0 || read_digits(&p, 2, &month) != 0 ||
        expect(&p, '-') != 0 || read_digits(&p, 2, &day) != 0)
        return OB_EINVAL;
    if (*p != 'T' && *p != 't')
        return OB_EINVAL;
    p++;
    if (read_digits(&p, 2, &hour) != 0 || expect(&p, ':') != 0 ||
        read_digits(&p, 2, &minute) != 0 || expect(&p, ':') != 0 ||
        read_digits(&p, 2, &second) != 0)
        return OB_EINVAL;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return OB_EINVAL;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                millis = millis * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return OB_EINVAL;
        for (int i = digits; i < 3; i++)
            millis *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (read_digits(&p, 2, &oh) != 0)
            return OB_EINVAL;
        if (*p == ':')
            p++;
        else if ((flags & DOOR_TIME_BASIC_OFFSET) == 0)
            return OB_EINVAL;
        if (read_digits(&p, 2, &om) != 0 || oh > 23 || om > 59)
            return OB_EINVAL;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return OB_EINVAL;
    }
    if (*p != '\0')
        return OB_EINVAL;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    secs = timegm(&tm);
    /* Years 0000-9999 are far inside a 64-bit time_t and int64 milliseconds. */
    ms = ((int64_t)secs - offset_s) * 1000 + millis;
    *ms_out = ms == GO_ZERO_TIME_MS ? 0 : ms;
    return 0;
}

int door_parse_time(const char *text, int64_t *ms_out)
{
    return door_parse_time_ex(text, 0, ms_out);
}

void door_format_time(int64_t ms, char *out, size_t cap)
{
    int64_t secs = ms / 1000;
    int64_t millis = ms % 1000;
    time_t t;
    struct tm tm;

    if (cap == 0)
        return;
    if (millis < 0) { /* floor, so that -1 ms is 23:59:59.999 of the day before */
        millis += 1000;
        secs -= 1;
    }
    t = (time_t)secs;
    if (gmtime_r(&t, &tm) == NULL) {
        out[0] = '\0';
        return;
    }
    snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
}
