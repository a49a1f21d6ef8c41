/*
 * fuzz_config.c - libFuzzer target for the configuration parser: feeds each
 * input to config_check_buffer() as opsbell.yaml, as users.yaml and as a
 * team file, and to config_parse_duration().  Any crash, leak or sanitizer
 * report is a bug; diagnostics are the expected outcome for most inputs.
 */
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum config_doc_kind kinds[] = {CONFIG_DOC_MAIN, CONFIG_DOC_USERS,
                                                 CONFIG_DOC_TEAM};
    char *text;
    uint32_t seconds;

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct config_diags diags = {0};
        config_check_buffer(kinds[i], "fuzz.yaml", "fuzz", (const char *)data, size, &diags);
        config_diags_release(&diags);
    }
    /* Durations are short; a NUL-terminated copy of small inputs is enough. */
    if (size <= 64) {
        text = malloc(size + 1);
        if (text == NULL)
            return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        config_parse_duration(text, &seconds);
        free(text);
    }
    return 0;
}
