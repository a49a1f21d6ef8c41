/*
 * fuzz_sip_dtmf_info.c - libFuzzer target for the hand-written SIP parts
 * of the SIP agent: the SIP INFO key parser (application/dtmf-relay and
 * application/dtmf bodies) and the call target builder (a contact
 * address plus the trunk).  The first byte picks the content subtype; the
 * rest is the body, exactly as it arrives (not NUL-terminated).  A key
 * that is returned must be one of 0-9 * # A-D.
 */
#include "sip/sip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const subtypes[] = {"dtmf-relay", "dtmf", "DTMF-Relay", "plain"};
    char key = 0, uri[256];
    char *copy;

    if (size < 1)
        return 0;
    if (sip_dtmf_info_parse(subtypes[data[0] % 4], (const char *)data + 1, size - 1, &key) == 0 &&
        (key == '\0' || strchr("0123456789*#ABCD", key) == NULL))
        abort();
    /* The same bytes as an address, NUL-terminated, with and without a trunk. */
    copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    if (sip_target_uri(copy, "sip:trunk.example.com:5060;transport=udp", uri, sizeof(uri)) == 0 &&
        strncmp(uri, "sip", 3) != 0)
        abort();
    (void)sip_target_uri(copy, NULL, uri, sizeof(uri));
    (void)sip_target_uri("+4930123456", copy, uri, sizeof(uri));
    free(copy);
    return 0;
}
