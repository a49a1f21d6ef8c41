/*
 * fuzz_cidr.c - libFuzzer target for CIDR parsing (src/enforce/cidr.c) and
 * the access-entries JSON file (src/enforce/entries.c): every grant's
 * address passes through these before it reaches a firewall.  Checked: a
 * parsed CIDR has no host bits, formats to text that parses back to itself
 * (a fixed point), and subtracting it from its /0 leaves exactly `prefix`
 * disjoint pieces; refused input leaves a one-line message; parsed entries
 * have safe ids and normalised CIDRs.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_cidr fuzz/corpus/fuzz_cidr
 */
#include "enforce/enforce.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cidr(const char *text)
{
    struct ob_error err = {0};
    struct cidr c, again, pieces[129], zero;
    char out[CIDR_TEXT_MAX], out2[CIDR_TEXT_MAX];
    size_t n;
    int rc = cidr_parse(text, &c, &err);

    if (rc != 0) {
        if (rc != OB_EINVAL || err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            abort();
        return;
    }
    if (c.family != AF_INET && c.family != AF_INET6)
        abort();
    if (c.prefix > (c.family == AF_INET ? 32u : 128u))
        abort();
    cidr_format(&c, out, sizeof(out));
    if (cidr_parse(out, &again, NULL) != 0 || memcmp(&again, &c, sizeof(c)) != 0)
        abort();
    cidr_format(&again, out2, sizeof(out2));
    if (strcmp(out, out2) != 0)
        abort();
    memset(&zero, 0, sizeof(zero));
    zero.family = c.family;
    if (!cidr_contains(&zero, &c) || !cidr_too_wide(&zero, 0, 0))
        abort();
    if (cidr_subtract(&zero, &c, pieces, 129, &n) != 0 || n != c.prefix)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (cidr_overlaps(&pieces[i], &c))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct access_entry *entries = NULL;
    struct ob_error err = {0};
    char text[128];
    size_t n = 0;
    int rc;

    if (size < sizeof(text)) {
        memcpy(text, data, size);
        text[size] = '\0';
        check_cidr(text);
    }
    rc = access_entries_from_json((const char *)data, size, 64, &entries, &n, &err);
    if (rc != 0) {
        if (entries != NULL || err.msg[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char norm[CIDR_TEXT_MAX];

        if (access_entry_check_id(entries[i].id, NULL) != 0)
            abort();
        if (cidr_normalise(entries[i].cidr, norm, sizeof(norm), NULL) != 0 ||
            strcmp(norm, entries[i].cidr) != 0)
            abort();
    }
    free(entries);
    return 0;
}
