/*
 * periodic.c - a thread that runs a function at intervals (see periodic.h).
 */
#include "util/periodic.h"

#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct periodic {
    periodic_fn fn;
    void *arg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* CLOCK_MONOTONIC */
    volatile int stopping; /* written under lock; read by fn without it */
    unsigned runs;         /* under lock */
};

static int passed(const struct timespec *until)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > until->tv_sec ||
           (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

static void *periodic_main(void *data)
{
    struct periodic *p = data;

    for (;;) {
        unsigned wait_s = p->fn(p->arg, &p->stopping);
        struct timespec until;

        pthread_mutex_lock(&p->lock);
        p->runs++;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_s;
        while (!p->stopping && !passed(&until))
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        pthread_mutex_unlock(&p->lock);
    }
}

int periodic_start(periodic_fn fn, void *arg, const char *what, struct periodic **out,
                   struct ob_error *err)
{
    struct periodic *p = calloc(1, sizeof(*p));
    pthread_condattr_t attr;

    *out = NULL;
    if (p == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return ob_fail(err, OB_EINTERNAL, "cannot start the %s thread", what);
    }
    *out = p;
    return 0;
}

unsigned periodic_runs(struct periodic *p)
{
    unsigned n;

    pthread_mutex_lock(&p->lock);
    n = p->runs;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void periodic_stop(struct periodic *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
