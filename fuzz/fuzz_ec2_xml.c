/*
 * fuzz_ec2_xml.c - libFuzzer target for the EC2 Query API's XML answers
 * (src/enforce/aws_xml.c): error documents, security group rule sets and
 * <return>.  Checked: every call returns one of its documented codes; a
 * parsed rule has a non-empty sgr id and NUL-terminated, control-free
 * fields; a failed parse leaves the list empty with a one-line message;
 * the opsbell description parser agrees with its formatter.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_ec2_xml fuzz/corpus/fuzz_ec2_xml
 */
#include "enforce/aws.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);

    if (len == cap)
        abort();
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct ob_error err = {0};
    struct aws_xml_error x;
    struct aws_rule_list list;
    int rc, ok = -1;

    rc = aws_xml_parse_error(body, size, &x);
    if (rc != 0 && rc != OB_ENOTFOUND && rc != OB_EINVAL)
        abort();
    if (rc == 0) {
        if (x.code[0] == '\0')
            abort();
        check_text(x.code, sizeof(x.code));
        check_text(x.message, sizeof(x.message));
        check_text(x.request_id, sizeof(x.request_id));
    }

    rc = aws_xml_parse_rules(body, size, &list, &err);
    if (rc != 0) {
        if (rc != OB_EINVAL && rc != OB_ETOOLARGE && rc != OB_ENOMEM)
            abort();
        if (list.count != 0 || list.items != NULL || err.msg[0] == '\0' ||
            strchr(err.msg, '\n') != NULL)
            abort();
    } else {
        for (size_t i = 0; i < list.count; i++) {
            const struct aws_rule *r = &list.items[i];
            int64_t exp;
            char id[64], again[AWS_DESC_MAX + 1];
            if (r->rule_id[0] == '\0')
                abort();
            check_text(r->rule_id, sizeof(r->rule_id));
            check_text(r->cidr, sizeof(r->cidr));
            check_text(r->description, sizeof(r->description));
            if (r->from_port < -1 || r->from_port > 65535)
                abort();
            if (aws_description_parse(r->description, id, sizeof(id), &exp) == 0 &&
                exp % 1000 == 0 && exp >= 0 &&
                aws_description_format(id, exp, again, sizeof(again)) == 0 &&
                strcmp(again, r->description) != 0)
                abort();
        }
        aws_rule_list_release(&list);
    }

    rc = aws_xml_parse_return(body, size, &ok);
    if ((rc != 0 && rc != OB_EINVAL) || (rc == 0 && ok != 0 && ok != 1))
        abort();
    return 0;
}
