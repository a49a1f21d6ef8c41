/*
 * fuzz_form.c - libFuzzer target for application/x-www-form-urlencoded
 * parsing (src/util/form.c), the first parser every Twilio and Slack
 * callback goes through.  Checked: success yields at most FORM_MAX_FIELDS
 * non-empty names with no NUL inside their decoded length, form_get finds
 * the first of each; failure leaves the form empty with a one-line message.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_form fuzz/corpus/fuzz_form
 */
#include "util/error.h"
#include "util/form.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ob_error err = {0};
    struct form f;
    int rc = form_parse((const char *)data, size, &f, &err);

    if (rc != 0) {
        if (rc != OB_EINVAL && rc != OB_ENOMEM)
            abort();
        if (f.count != 0 || f.fields != NULL || err.msg[0] == '\0' || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    if (f.count > FORM_MAX_FIELDS)
        abort();
    for (size_t i = 0; i < f.count; i++) {
        const char *first = form_get(&f, f.fields[i].name);
        if (f.fields[i].name[0] == '\0' || first == NULL)
            abort();
        /* form_get returns the first field of that name. */
        size_t j = 0;
        while (strcmp(f.fields[j].name, f.fields[i].name) != 0)
            j++;
        if (first != f.fields[j].value)
            abort();
        /* A decoded value never exceeds its encoded length. */
        if (strlen(f.fields[i].value) > size)
            abort();
    }
    form_release(&f);
    return 0;
}
