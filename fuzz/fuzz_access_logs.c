/*
 * fuzz_access_logs.c - libFuzzer target for the Slack team.accessLogs page
 * parser (src/access/accesslogs.c, accesslogs_parse).
 *
 * Input: one answer body as Slack would send it.  Checked: a refusal is
 * OB_EINVAL / OB_ENOMEM with a one-line message and an empty page; an ok
 * page holds at most ACCESSLOGS_PAGE_COUNT logins, each with a Slack user
 * id (U… / W…), an address that parses as a single IPv4 / IPv6 host,
 * non-negative times and a printable, bounded user agent; the cursor is
 * bounded and URL-safe text; an ok:false page has no logins and a
 * printable error code.  Parsing twice gives the same result.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_access_logs fuzz/corpus/fuzz_access_logs
 */
#include "access/accesslogs.h"
#include "enforce/enforce.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    if (n >= cap)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            abort();
    }
}

static void check_page(const struct accesslogs_page *p)
{
    if (!p->ok) {
        if (p->count != 0 || p->error[0] == '\0')
            abort();
        check_printable(p->error, sizeof(p->error));
        return;
    }
    if (p->count > ACCESSLOGS_PAGE_COUNT || (p->count > 0 && p->items == NULL))
        abort();
    check_printable(p->next_cursor, sizeof(p->next_cursor));
    if (strpbrk(p->next_cursor, " &?#%\"") != NULL || p->page < 0 || p->pages < 0)
        abort();
    for (size_t i = 0; i < p->count; i++) {
        const struct accesslogs_sighting *s = &p->items[i];
        struct cidr c;

        if ((s->user_id[0] != 'U' && s->user_id[0] != 'W') || s->date_first < 0 || s->date_last < 0)
            abort();
        check_printable(s->user_id, sizeof(s->user_id));
        check_printable(s->user_agent, sizeof(s->user_agent));
        if (cidr_parse(s->ip, &c, NULL) != 0 ||
            (c.family == AF_INET ? c.prefix != 32 : c.prefix != 128))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct accesslogs_page a, b;
    struct ob_error err = {0};
    int rc = accesslogs_parse((const char *)data, size, &a, &err);
    int rc2 = accesslogs_parse((const char *)data, size, &b, NULL);

    if (rc != rc2)
        abort();
    if (rc != 0) {
        if ((rc != OB_EINVAL && rc != OB_ENOMEM) || a.count != 0 || a.items != NULL ||
            err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
            abort();
    } else {
        check_page(&a);
        if (a.count != b.count || a.ok != b.ok || strcmp(a.next_cursor, b.next_cursor) != 0 ||
            (a.count > 0 && memcmp(a.items, b.items, a.count * sizeof(*a.items)) != 0))
            abort();
    }
    accesslogs_page_release(&a);
    accesslogs_page_release(&b);
    return 0;
}
