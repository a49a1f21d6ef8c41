/* enforcer.c - the enforcer table. */
#include "enforce/enforce.h"

#include <string.h>

const struct enforcer *const enforcers[] = {
    &enforcer_nftables,
};
const size_t enforcer_count = sizeof(enforcers) / sizeof(enforcers[0]);

const struct enforcer *enforcer_find(const char *name)
{
    for (size_t i = 0; i < enforcer_count; i++) {
        if (strcmp(enforcers[i]->name, name) == 0)
            return enforcers[i];
    }
    return NULL;
}
