/*
 * periodic.h - a thread that runs one function again and again: at once,
 * then each time the wait it returned has passed (CLOCK_MONOTONIC), until
 * periodic_stop().  For background work that waits on the outside world
 * (the keys repository's fetch, the AWS sweeper).
 *
 * Ownership: periodic_start() returns a handle the caller stops (and so
 * frees) with periodic_stop(); arg stays the caller's and must outlive it.
 * fn runs on the periodic thread only; `stopping` turns 1 when a stop is
 * asked, so that a long run may give up early.
 */
#ifndef OPSBELL_UTIL_PERIODIC_H
#define OPSBELL_UTIL_PERIODIC_H

struct ob_error;
struct periodic;

/* One run; returns the seconds to wait before the next. */
typedef unsigned (*periodic_fn)(void *arg, const volatile int *stopping);

/* Start the thread (what names it goes into err on failure). 0 or OB_EINTERNAL. */
int periodic_start(periodic_fn fn, void *arg, const char *what, struct periodic **out,
                   struct ob_error *err);
/* How many runs have ended. */
unsigned periodic_runs(struct periodic *p);
/* Ask the thread to stop, wait for the run in progress, free. Accepts NULL. */
void periodic_stop(struct periodic *p);

#endif
