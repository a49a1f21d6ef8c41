/*
 * cidr.c - IPv4/IPv6 addresses and CIDRs: parse, normalise, compare, and the
 * too-wide policy check for grants.  Pure functions, no allocation.
 */
#include "enforce/enforce.h"

#include "util/error.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

static int bit_at(const uint8_t *addr, unsigned i)
{
    return (addr[i / 8] >> (7 - i % 8)) & 1;
}

static void set_bit(uint8_t *addr, unsigned i, int v)
{
    uint8_t mask = (uint8_t)(1u << (7 - i % 8));

    if (v)
        addr[i / 8] |= mask;
    else
        addr[i / 8] &= (uint8_t)~mask;
}

static void clear_host_bits(struct cidr *c)
{
    unsigned bits = family_bits(c->family);

    for (unsigned i = c->prefix; i < bits; i++)
        set_bit(c->addr, i, 0);
}

/* The prefix after '/': 1..3 decimal digits, no leading zero (except "0"). */
static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
    size_t len = strlen(s);
    unsigned v = 0;

    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int cidr_parse(const char *text, struct cidr *out, struct ob_error *err)
{
    char buf[CIDR_TEXT_MAX];
    const char *slash_prefix = NULL;
    char *slash;
    size_t len;

    if (text == NULL)
        return ob_fail(err, OB_EINVAL, "missing address");
    len = strnlen(text, CIDR_TEXT_MAX);
    if (len == 0)
        return ob_fail(err, OB_EINVAL, "empty address");
    if (len >= CIDR_TEXT_MAX)
        return ob_fail(err, OB_EINVAL, "address too long");
    memcpy(buf, text, len + 1);
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
        slash_prefix = slash + 1;
    }
    memset(out, 0, sizeof(*out));
    if (strchr(buf, ':') != NULL) {
        out->family = AF_INET6;
        if (inet_pton(AF_INET6, buf, out->addr) != 1)
            return ob_fail(err, OB_EINVAL, "not an IPv6 address");
    } else {
        out->family = AF_INET;
        if (inet_pton(AF_INET, buf, out->addr) != 1)
            return ob_fail(err, OB_EINVAL, "not an IPv4 address");
    }
    out->prefix = family_bits(out->family);
    if (slash_prefix != NULL &&
        parse_prefix(slash_prefix, family_bits(out->family), &out->prefix) != 0)
        return ob_fail(err, OB_EINVAL, "bad prefix length (0..%u)", family_bits(out->family));
    clear_host_bits(out);
    return 0;
}

void cidr_format(const struct cidr *c, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];

    if (inet_ntop(c->family, c->addr, addr, sizeof(addr)) == NULL)
        addr[0] = '\0';
    snprintf(out, cap, "%s/%u", addr, c->prefix);
}

int cidr_normalise(const char *text, char *out, size_t cap, struct ob_error *err)
{
    struct cidr c;
    int rc = cidr_parse(text, &c, err);

    if (rc != 0)
        return rc;
    cidr_format(&c, out, cap);
    return 0;
}

int cidr_too_wide(const struct cidr *c, unsigned max_prefix_v4, unsigned max_prefix_v6)
{
    unsigned limit = c->family == AF_INET ? max_prefix_v4 : max_prefix_v6;

    return c->prefix == 0 || c->prefix < limit;
}

/* 1 when the first n bits of a and b are equal. */
static int same_bits(const uint8_t *a, const uint8_t *b, unsigned n)
{
    unsigned bytes = n / 8;

    if (memcmp(a, b, bytes) != 0)
        return 0;
    for (unsigned i = bytes * 8; i < n; i++) {
        if (bit_at(a, i) != bit_at(b, i))
            return 0;
    }
    return 1;
}

int cidr_contains(const struct cidr *outer, const struct cidr *inner)
{
    return outer->family == inner->family && outer->prefix <= inner->prefix &&
           same_bits(outer->addr, inner->addr, outer->prefix);
}

int cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
    return cidr_contains(a, b) || cidr_contains(b, a);
}

int cidr_subtract(const struct cidr *outer, const struct cidr *inner, struct cidr *out, size_t cap,
                  size_t *n)
{
    struct cidr cur;

    *n = 0;
    if (!cidr_overlaps(outer, inner)) {
        if (cap < 1)
            return OB_ETOOLARGE;
        out[(*n)++] = *outer;
        return 0;
    }
    if (cidr_contains(inner, outer))
        return 0;
    if (cap < inner->prefix - outer->prefix)
        return OB_ETOOLARGE;
    /* Walk down from outer towards inner: at each level keep the half that
     * does not hold inner. */
    cur = *outer;
    while (cur.prefix < inner->prefix) {
        struct cidr other = cur;
        int b = bit_at(inner->addr, cur.prefix);

        other.prefix = cur.prefix + 1;
        set_bit(other.addr, cur.prefix, !b);
        out[(*n)++] = other;
        cur.prefix++;
        set_bit(cur.addr, cur.prefix - 1, b);
    }
    return 0;
}

int access_entry_check_id(const char *id, struct ob_error *err)
{
    size_t len = strnlen(id, 64);

    if (len == 0 || len >= 64)
        return ob_fail(err, OB_EINVAL, "entry id must be 1..63 bytes");
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr(":._@/+=-", ch) != NULL))
            return ob_fail(err, OB_EINVAL, "entry id may hold only letters, digits and :._@/+=-");
    }
    return 0;
}
