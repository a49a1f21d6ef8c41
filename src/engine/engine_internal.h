/*
 * engine_internal.h - what engine.c and escalate.c share.
 */
#ifndef OPSBELL_ENGINE_ENGINE_INTERNAL_H
#define OPSBELL_ENGINE_ENGINE_INTERNAL_H

#include "engine/engine.h"

#include <stdint.h>

struct config;
struct escalation;

/* One pass of the engine over due work, inside one transaction. */
struct engine_round {
    struct store_conn *conn;
    const struct config *cfg;
    const char *node;
    int64_t now_ms;
    int64_t next_due;    /* earliest next step scheduled in this round; 0 = none */
    int64_t first_due;   /* earliest notification queued in this round; 0 = none */
    int64_t lateness_ms; /* of the step just taken */
    uint64_t queued;     /* outbox rows queued in this round */
};

/* Take the step esc is due for (see escalate.c). */
int engine_take_step(struct engine_round *round, const struct escalation *esc,
                     struct ob_error *err);

#endif
