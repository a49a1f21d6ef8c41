/*
 * tel.c - calls on request (see tel.h).  Being written: refuses for now.
 */
#include "notify/tel.h"

#include "util/error.h"

#include <string.h>

int tel_request(struct app *app, const struct tel_request *req, struct tel_placed *out,
                struct ob_error *err)
{
    (void)app;
    (void)req;
    memset(out, 0, sizeof(*out));
    return ob_fail(err, OB_EUNAVAILABLE, "calls on request are not built yet");
}

size_t tel_close_matches(const struct config *cfg, const char *name, const char **out,
                         size_t max)
{
    (void)cfg;
    (void)name;
    (void)out;
    (void)max;
    return 0;
}
