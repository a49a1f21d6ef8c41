/*
 * fuzz_schedule.c - libFuzzer target for rotations: the input is
 * "RRULE\nTIME_ZONE\nSTART_DATE\nHANDOFF_SECONDS\nWINDOW_DAYS" (missing lines
 * take defaults).  When rotation_compile() accepts it, rotation_at() and
 * schedule_timeline() run over a window on a one-layer schedule with a
 * restriction, and schedule_oncall_at() at its middle; every shift returned
 * must be sorted, adjacent and inside the window.  oncall_parse_time() gets
 * the first line too.
 */
#include "config/config.h"
#include "oncall/schedule.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 5

/* Split a copy of data at newlines into up to FIELDS strings. */
static char *fuzz_split(const uint8_t *data, size_t size, char *fields[FIELDS])
{
    char *copy = malloc(size + 1);
    char *p;

    if (copy == NULL)
        return NULL;
    memcpy(copy, data, size);
    copy[size] = '\0';
    p = copy;
    for (int i = 0; i < FIELDS; i++) {
        char *nl;
        fields[i] = NULL;
        if (p == NULL)
            continue;
        fields[i] = p;
        nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
    }
    return copy;
}

static void fuzz_check_shifts(const struct shift *sh, size_t n, int64_t from, int64_t until)
{
    if (n == 0 || sh[0].start_ms != from || sh[n - 1].end_ms != until)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (sh[i].start_ms >= sh[i].end_ms || (i > 0 && sh[i - 1].end_ms != sh[i].start_ms))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fields[FIELDS];
    char *copy;
    struct rotation *rot = NULL;
    const char *tz;
    const char *start;
    uint32_t handoff = 0, days = 14;
    int64_t out_ms;

    if (size > 1024)
        return 0;
    copy = fuzz_split(data, size, fields);
    if (copy == NULL)
        return 0;
    tz = fields[1] != NULL ? fields[1] : "UTC";
    start = fields[2] != NULL ? fields[2] : "2026-01-05";
    if (fields[3] != NULL)
        handoff = (uint32_t)strtoul(fields[3], NULL, 10) % 86400;
    if (fields[4] != NULL)
        days = 1 + (uint32_t)strtoul(fields[4], NULL, 10) % 400;
    oncall_parse_time(fields[0], tz, 1767225600000LL, &out_ms, NULL);
    if (rotation_compile(fields[0], start, handoff, tz, &rot, NULL) == 0) {
        char *users[] = {"ann", "bob", "carol"};
        struct config_restriction res = {0x1f, 9 * 3600, 17 * 3600};
        struct config_schedule_layer layers[2] = {
            {.name = "base", .users = users, .user_count = 3, .rotation = rot},
            {.name = "day", .users = users + 2, .user_count = 1, .rotation = rot},
        };
        struct config_schedule sched = {.name = "fuzz", .layers = layers, .layer_count = 2};
        struct schedule_override ovr = {1, "dave", 1767225600000LL, 1767225600000LL + 3600000};
        /* 2026-01-01 .. + days */
        int64_t from = 1767225600000LL, until = from + (int64_t)days * 86400000;
        int64_t index, s, e;
        struct shift *sh = NULL, now, next;
        size_t n = 0;

        layers[1].restrictions = &res;
        layers[1].restriction_count = 1;
        layers[1].time_zone = (char *)tz;
        rotation_at(rot, from + (until - from) / 2, &index, &s, &e, NULL);
        if (schedule_timeline(&sched, &ovr, 1, from, until, &sh, &n, NULL) == 0) {
            fuzz_check_shifts(sh, n, from, until);
            /* The engine's point query agrees with the timeline. */
            for (size_t i = 0; i < n; i++) {
                const char *user = NULL;
                int64_t mid = sh[i].start_ms + (sh[i].end_ms - sh[i].start_ms) / 2;
                if (schedule_user_at(&sched, &ovr, 1, mid, &user, NULL) == 0 &&
                    (user == NULL) != (sh[i].user == NULL))
                    abort();
                if (user != NULL && sh[i].user != NULL && strcmp(user, sh[i].user) != 0)
                    abort();
            }
        }
        free(sh);
        schedule_oncall_at(&sched, &ovr, 1, from + (until - from) / 2, &now, &next, NULL);
        rotation_free(rot);
    }
    free(copy);
    return 0;
}
