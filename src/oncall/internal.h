/*
 * internal.h - what the files of src/oncall/ share; not for other subsystems.
 *
 * libical's time-zone objects are not safe to use from several threads at
 * once (loading a zone and widening a zone's table of transitions both
 * change shared state), so every call into libical that takes a zone runs
 * under one lock: oncall_ical_lock().  Lock order: a rotation's own lock
 * first, then this one.
 */
#ifndef OPSBELL_ONCALL_INTERNAL_H
#define OPSBELL_ONCALL_INTERNAL_H

#include "oncall/schedule.h"

#include <libical/ical.h>
#include <stdint.h>

void oncall_ical_lock(void);
void oncall_ical_unlock(void);

/* The zone named tz, or NULL (unknown, or a name we refuse to look up).
 * Zones live as long as the process.  Call with the lock held. */
icaltimezone *oncall_zone_locked(const char *tz);

/*
 * A local wall-clock time (fields only; zone and is_date ignored) in zone
 * to seconds since the epoch, as RFC 5545 3.3.5 says: a time skipped by a
 * daylight-saving change is read with the offset before the gap (02:30 on
 * a spring-forward day becomes 03:30 of the new offset), a time that occurs
 * twice means its first occurrence.  Call with the lock held.
 */
int64_t oncall_local_to_utc_locked(struct icaltimetype local, icaltimezone *zone);
/* Seconds since the epoch to the local wall-clock time in zone (lock held). */
struct icaltimetype oncall_utc_to_local_locked(int64_t seconds, icaltimezone *zone);

/* Instants handled at all: 1970-01-01 .. 2999-12-31 (ms). */
#define ONCALL_MIN_MS 0LL
#define ONCALL_MAX_MS 32503680000000LL /* 3000-01-01T00:00:00Z */

/*
 * The handoffs of rot before until_ms, starting with the one in force at
 * from_ms (or the first one when from_ms is before it): *first_index is
 * the occurrence number of (*out)[0]; *out is malloc'd (free()), *n may
 * be 0.  OB_EINVAL past the cap on cached handoffs.
 */
int rotation_slice(struct rotation *rot, int64_t from_ms, int64_t until_ms, int64_t *first_index,
                   int64_t **out, size_t *n, struct ob_error *err);
/* The zone the rotation was compiled for (never NULL). */
icaltimezone *rotation_zone(const struct rotation *rot);

#endif
