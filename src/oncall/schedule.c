/*
 * schedule.c - a schedule's timeline: each layer's rotation cut to its
 * restrictions, layers stacked (the higher one wins where it has somebody),
 * overrides on top, adjacent equal stretches merged, gaps kept as nobody.
 *
 * The timeline of a window is built from its elementary intervals: every
 * start and end of a layer piece or an override is a boundary; between two
 * boundaries one origin decides who is on call.
 */
#include "oncall/internal.h"

#include "config/config.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

/* A stretch with one user from one origin (a layer or an override). */
struct piece {
    int64_t start, end;
    const char *user;
    int layer;
    int64_t override_id;
};

struct piece_list {
    struct piece *items;
    size_t count, cap;
};

static int piece_add(struct piece_list *l, int64_t start, int64_t end, const char *user, int layer,
                     int64_t override_id)
{
    if (start >= end)
        return 0;
    if (l->count == l->cap) {
        size_t cap = l->cap == 0 ? 32 : l->cap * 2;
        struct piece *p = realloc(l->items, cap * sizeof(*p));
        if (p == NULL)
            return OB_ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->count++] = (struct piece){start, end, user, layer, override_id};
    return 0;
}

static int piece_cmp(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/*
 * The windows of the layer's restrictions that touch [from, until), sorted
 * and merged, in *out (user NULL).  Local days are walked from the day
 * before from (a window may start the day before and end the next).
 */
static int schedule_windows(const struct config_schedule_layer *layer, int64_t from, int64_t until,
                            struct piece_list *out)
{
    icaltimezone *zone = rotation_zone(layer->rotation);
    struct icaltimetype day;
    size_t w = 0;
    int rc = 0;

    oncall_ical_lock();
    day = oncall_utc_to_local_locked(from / 1000, zone);
    day.hour = day.minute = day.second = 0;
    day.zone = NULL;
    icaltime_adjust(&day, -1, 0, 0, 0);
    for (;;) {
        /* icaltime_day_of_week: 1 = Sunday .. 7 = Saturday; bit 0 = Monday. */
        unsigned bit = (unsigned)(icaltime_day_of_week(day) + 5) % 7;
        int64_t midnight = oncall_local_to_utc_locked(day, zone) * 1000;
        if (midnight >= until)
            break;
        for (unsigned r = 0; r < layer->restriction_count; r++) {
            const struct config_restriction *res = &layer->restrictions[r];
            struct icaltimetype t = day;
            int64_t start, end;
            if ((res->days & (1U << bit)) == 0)
                continue;
            t.hour = (int)(res->from_seconds / 3600);
            t.minute = (int)(res->from_seconds / 60 % 60);
            t.second = (int)(res->from_seconds % 60);
            start = oncall_local_to_utc_locked(t, zone) * 1000;
            t = day;
            if (res->to_seconds <= res->from_seconds)
                icaltime_adjust(&t, 1, 0, 0, 0);
            t.hour = (int)(res->to_seconds / 3600);
            t.minute = (int)(res->to_seconds / 60 % 60);
            t.second = (int)(res->to_seconds % 60);
            end = oncall_local_to_utc_locked(t, zone) * 1000;
            rc = piece_add(out, max64(start, from), min64(end, until), NULL, 0, 0);
            if (rc != 0)
                goto out;
        }
        icaltime_adjust(&day, 1, 0, 0, 0);
    }
out:
    oncall_ical_unlock();
    if (rc != 0 || out->count == 0)
        return rc;
    qsort(out->items, out->count, sizeof(*out->items), piece_cmp);
    for (size_t i = 1; i < out->count; i++) {
        if (out->items[i].start <= out->items[w].end)
            out->items[w].end = max64(out->items[w].end, out->items[i].end);
        else
            out->items[++w] = out->items[i];
    }
    out->count = w + 1;
    return 0;
}

/* Layer li's pieces within [from, until): its shifts, cut to its windows. */
static int schedule_layer_pieces(const struct config_schedule *sched, int li, int64_t from,
                                 int64_t until, struct piece_list *out, struct ob_error *err)
{
    const struct config_schedule_layer *layer = &sched->layers[li];
    struct piece_list windows = {0};
    int64_t *handoffs = NULL, first_index;
    size_t n = 0, wi = 0;
    int rc;

    if (layer->rotation == NULL || layer->user_count == 0)
        return ob_fail(err, OB_EINVAL, "schedule '%s' layer '%s' has no compiled rotation",
                       sched->name != NULL ? sched->name : "?",
                       layer->name != NULL ? layer->name : "?");
    rc = rotation_slice(layer->rotation, from, until, &first_index, &handoffs, &n, err);
    if (rc != 0)
        goto out;
    if (layer->restriction_count > 0) {
        rc = schedule_windows(layer, from, until, &windows);
        if (rc != 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t s = max64(handoffs[i], from);
        int64_t e = i + 1 < n ? handoffs[i + 1] : until;
        const char *user = layer->users[(uint64_t)(first_index + (int64_t)i) % layer->user_count];
        if (layer->restriction_count == 0) {
            rc = piece_add(out, s, e, user, li, 0);
            if (rc != 0)
                goto out;
            continue;
        }
        while (wi < windows.count && windows.items[wi].end <= s)
            wi++;
        for (size_t k = wi; k < windows.count && windows.items[k].start < e; k++) {
            rc = piece_add(out, max64(s, windows.items[k].start), min64(e, windows.items[k].end),
                           user, li, 0);
            if (rc != 0)
                goto out;
        }
    }
out:
    free(handoffs);
    free(windows.items);
    return rc;
}

static int64_t cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static int i64_cmp(const void *a, const void *b)
{
    return (int)cmp_i64(*(const int64_t *)a, *(const int64_t *)b);
}

static int shift_same_origin(const struct shift *s, const struct piece *p)
{
    if (s->layer != p->layer || s->override_id != p->override_id)
        return 0;
    if (s->user == NULL || p->user == NULL)
        return s->user == p->user;
    return strcmp(s->user, p->user) == 0;
}

/* Append [start, end) of origin p (NULL: nobody) to the timeline, merging. */
static int timeline_add(struct shift **out, size_t *count, size_t *cap, int64_t start, int64_t end,
                        const struct piece *p)
{
    static const struct piece nobody = {0, 0, NULL, SHIFT_LAYER_NONE, 0};

    if (p == NULL)
        p = &nobody;
    if (*count > 0 && (*out)[*count - 1].end_ms == start &&
        shift_same_origin(&(*out)[*count - 1], p)) {
        (*out)[*count - 1].end_ms = end;
        return 0;
    }
    if (*count == *cap) {
        size_t ncap = *cap == 0 ? 16 : *cap * 2;
        struct shift *s = realloc(*out, ncap * sizeof(*s));
        if (s == NULL)
            return OB_ENOMEM;
        *out = s;
        *cap = ncap;
    }
    (*out)[(*count)++] = (struct shift){start, end, p->user, p->layer, p->override_id};
    return 0;
}

int schedule_timeline(const struct config_schedule *sched, const struct schedule_override *ovr,
                      size_t n_ovr, int64_t from_ms, int64_t until_ms, struct shift **out,
                      size_t *count, struct ob_error *err)
{
    struct piece_list *layers = NULL;
    struct piece_list overrides = {0};
    size_t *pos = NULL;
    int64_t *bounds = NULL;
    size_t nb = 0, bcap = 2, op = 0, cap = 0;
    int rc = 0;

    *out = NULL;
    *count = 0;
    if (from_ms >= until_ms || until_ms - from_ms > ONCALL_MAX_WINDOW_MS)
        return ob_fail(err, OB_EINVAL, "time window is empty or longer than 400 days");
    if (from_ms < ONCALL_MIN_MS || until_ms > ONCALL_MAX_MS)
        return ob_fail(err, OB_EINVAL, "time window is outside the years 1970 to 2999");
    if (sched->layer_count == 0)
        return ob_fail(err, OB_EINVAL, "schedule has no layers");
    layers = calloc(sched->layer_count, sizeof(*layers));
    pos = calloc(sched->layer_count, sizeof(*pos));
    if (layers == NULL || pos == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    for (unsigned li = 0; li < sched->layer_count; li++) {
        rc = schedule_layer_pieces(sched, (int)li, from_ms, until_ms, &layers[li], err);
        if (rc != 0)
            goto out;
        bcap += 2 * layers[li].count;
    }
    for (size_t i = 0; i < n_ovr; i++) {
        rc = piece_add(&overrides, max64(ovr[i].start_ms, from_ms), min64(ovr[i].end_ms, until_ms),
                       ovr[i].user, -1, ovr[i].id);
        if (rc != 0)
            goto out;
    }
    if (overrides.count > 1)
        qsort(overrides.items, overrides.count, sizeof(*overrides.items), piece_cmp);
    bcap += 2 * overrides.count;
    bounds = malloc(bcap * sizeof(*bounds));
    if (bounds == NULL) {
        rc = OB_ENOMEM;
        goto out;
    }
    bounds[nb++] = from_ms;
    bounds[nb++] = until_ms;
    for (unsigned li = 0; li < sched->layer_count; li++) {
        for (size_t i = 0; i < layers[li].count; i++) {
            bounds[nb++] = layers[li].items[i].start;
            bounds[nb++] = layers[li].items[i].end;
        }
    }
    for (size_t i = 0; i < overrides.count; i++) {
        bounds[nb++] = overrides.items[i].start;
        bounds[nb++] = overrides.items[i].end;
    }
    qsort(bounds, nb, sizeof(*bounds), i64_cmp);
    for (size_t b = 0; b + 1 < nb; b++) {
        int64_t s = bounds[b], e = bounds[b + 1];
        const struct piece *who = NULL;
        if (s == e)
            continue;
        while (op < overrides.count && overrides.items[op].end <= s)
            op++;
        for (size_t k = op; k < overrides.count && overrides.items[k].start <= s; k++) {
            if (overrides.items[k].end > s) {
                who = &overrides.items[k];
                break;
            }
        }
        for (unsigned li = sched->layer_count; who == NULL && li > 0; li--) {
            struct piece_list *l = &layers[li - 1];
            while (pos[li - 1] < l->count && l->items[pos[li - 1]].end <= s)
                pos[li - 1]++;
            if (pos[li - 1] < l->count && l->items[pos[li - 1]].start <= s)
                who = &l->items[pos[li - 1]];
        }
        rc = timeline_add(out, count, &cap, s, e, who);
        if (rc != 0)
            goto out;
    }
out:
    for (unsigned li = 0; layers != NULL && li < sched->layer_count; li++)
        free(layers[li].items);
    free(layers);
    free(pos);
    free(overrides.items);
    free(bounds);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

/* 1 when the timeline over [from, until) settles now and next for at. */
static int schedule_settled(const struct shift *shifts, size_t n, int64_t at, int64_t from,
                            int64_t until, int final, struct shift *now, struct shift *next)
{
    size_t i = 0;

    while (i < n && shifts[i].end_ms <= at)
        i++;
    if (i == n)
        return 0; /* cannot happen: the timeline covers [from, until) */
    *now = shifts[i];
    memset(next, 0, sizeof(*next));
    next->layer = SHIFT_LAYER_NONE;
    if (!final && ((now->start_ms == from && from > ONCALL_MIN_MS) || now->end_ms == until))
        return 0;
    for (size_t k = i + 1; k < n; k++) {
        if (shifts[k].user == NULL)
            continue;
        if (!final && shifts[k].end_ms == until)
            return 0;
        *next = shifts[k];
        return 1;
    }
    if (!final)
        return 0;
    next->start_ms = now->end_ms;
    next->end_ms = now->end_ms;
    return 1;
}

int schedule_oncall_at(const struct config_schedule *sched, const struct schedule_override *ovr,
                       size_t n_ovr, int64_t at_ms, struct shift *now, struct shift *next,
                       struct ob_error *err)
{
    static const int64_t day = 24LL * 3600 * 1000;
    int64_t span = 4 * day;
    int rc;

    if (at_ms < ONCALL_MIN_MS || at_ms >= ONCALL_MAX_MS)
        return ob_fail(err, OB_EINVAL, "instant is outside the years 1970 to 2999");
    for (;;) {
        struct shift *shifts = NULL;
        size_t n = 0;
        int final = span >= ONCALL_LOOK_MS;
        int64_t from, until;
        int done;

        if (final)
            span = ONCALL_LOOK_MS;
        from = max64(at_ms - span, ONCALL_MIN_MS);
        until = min64(at_ms + span, ONCALL_MAX_MS);
        rc = schedule_timeline(sched, ovr, n_ovr, from, until, &shifts, &n, err);
        if (rc != 0)
            return rc;
        done = schedule_settled(shifts, n, at_ms, from, until, final, now, next);
        free(shifts);
        if (done)
            return 0;
        if (final)
            return ob_fail(err, OB_EINTERNAL, "the timeline does not cover the instant");
        span *= 4;
    }
}

int schedule_user_at(const struct config_schedule *sched, const struct schedule_override *ovr,
                     size_t n_ovr, int64_t at_ms, const char **user, struct ob_error *err)
{
    *user = NULL;
    for (size_t i = 0; i < n_ovr; i++) {
        if (ovr[i].start_ms <= at_ms && at_ms < ovr[i].end_ms) {
            *user = ovr[i].user;
            return 0;
        }
    }
    for (unsigned li = sched->layer_count; li-- > 0;) {
        const struct config_schedule_layer *layer = &sched->layers[li];
        struct piece_list windows = {0};
        int64_t index, start, end;
        int rc;

        if (layer->rotation == NULL || layer->user_count == 0)
            return ob_fail(err, OB_EINVAL, "schedule '%s' layer '%s' has no compiled rotation",
                           sched->name != NULL ? sched->name : "?",
                           layer->name != NULL ? layer->name : "?");
        rc = rotation_at(layer->rotation, at_ms, &index, &start, &end, err);
        if (rc == OB_ENOTFOUND) { /* before this layer's first handoff */
            ob_error_clear(err);
            continue;
        }
        if (rc != 0)
            return rc;
        if (layer->restriction_count > 0) {
            rc = schedule_windows(layer, at_ms, at_ms + 1, &windows);
            free(windows.items);
            if (rc != 0)
                return ob_fail(err, rc, "out of memory");
            if (windows.count == 0)
                continue; /* outside this layer's hours */
        }
        *user = layer->users[(uint64_t)index % layer->user_count];
        return 0;
    }
    return 0;
}

static int ovr_cmp(const void *a, const void *b)
{
    const struct schedule_override *const *x = a, *const *y = b;

    return (int)cmp_i64((*x)->start_ms, (*y)->start_ms);
}

int schedule_overrides_overlap(const struct schedule_override *ovr, size_t n_ovr)
{
    const struct schedule_override **sorted;
    int overlap = 0;

    if (n_ovr < 2)
        return 0;
    sorted = malloc(n_ovr * sizeof(*sorted));
    if (sorted == NULL) {
        /* No memory to sort: compare every pair. */
        for (size_t i = 0; i < n_ovr; i++) {
            for (size_t j = i + 1; j < n_ovr; j++) {
                if (ovr[i].start_ms < ovr[j].end_ms && ovr[j].start_ms < ovr[i].end_ms)
                    return 1;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < n_ovr; i++)
        sorted[i] = &ovr[i];
    qsort(sorted, n_ovr, sizeof(*sorted), ovr_cmp);
    /* Sorted by start: an overlap shows between some entry and the latest
     * end among those before it. */
    for (size_t i = 1, last = 0; i < n_ovr && !overlap; i++) {
        if (sorted[i]->start_ms < sorted[last]->end_ms && sorted[i]->end_ms > sorted[i]->start_ms &&
            sorted[last]->end_ms > sorted[last]->start_ms)
            overlap = 1;
        if (sorted[i]->end_ms > sorted[last]->end_ms)
            last = i;
    }
    free(sorted);
    return overlap;
}
