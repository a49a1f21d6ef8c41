/*
 * aws_xml.c - the EC2 Query API's XML answers, read with libxml2.
 *
 * libxml2 rather than a hand-written parser: the answers use namespaces,
 * entities and character references, and libxml2 is fuzzed upstream.  It is
 * used defensively: no network (XML_PARSE_NONET), no entity substitution,
 * no DTD loading, and a document with any DTD is refused outright (EC2
 * never sends one), which rules out external entities and entity
 * expansion bombs.  Element names are matched by local name, so the
 * default namespace (http://ec2.amazonaws.com/doc/2016-11-15/) is ignored.
 *
 * Shapes (docs.aws.amazon.com/AWSEC2/latest/APIReference):
 *   <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
 *   <AuthorizeSecurityGroupIngressResponse><requestId/><return/>
 *     <securityGroupRuleSet><item><securityGroupRuleId/>...</item></securityGroupRuleSet>
 *   <DescribeSecurityGroupRulesResponse><securityGroupRuleSet>...<nextToken/>
 *   <RevokeSecurityGroupIngressResponse><return/>
 */
#include "enforce/aws.h"

#include "util/error.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

/* libxml2 reports some errors (encoding ones) through its generic handler
 * even with XML_PARSE_NOERROR; hostile input must not write to stderr. */
static void xml_silent(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

static void xml_silent_structured(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

static xmlDocPtr xml_read(const char *body, size_t len)
{
    xmlDocPtr doc;

    if (body == NULL || len == 0 || len > AWS_RESPONSE_MAX)
        return NULL;
    pthread_once(&xml_once, xml_init);
    /* Both handlers are per thread in libxml2. */
    xmlSetGenericErrorFunc(NULL, xml_silent);
    xmlSetStructuredErrorFunc(NULL, xml_silent_structured);
    doc = xmlReadMemory(body, (int)len, "ec2.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_NOCDATA);
    if (doc == NULL)
        return NULL;
    if (doc->intSubset != NULL || doc->extSubset != NULL || xmlDocGetRootElement(doc) == NULL) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int is_elem(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent->children; n != NULL; n = n->next) {
        if (is_elem(n, name))
            return n;
    }
    return NULL;
}

/* Text of an element (entities and references resolved) into out: 0, or
 * OB_EINVAL when it does not fit or has control characters. out is "" when
 * the element is absent. */
static int text_of(const xmlNode *parent, const char *name, char *out, size_t cap)
{
    xmlNode *n = child(parent, name);
    xmlChar *t;
    size_t len;
    int rc = 0;

    out[0] = '\0';
    if (n == NULL)
        return 0;
    t = xmlNodeGetContent(n);
    if (t == NULL)
        return 0;
    len = strlen((const char *)t);
    if (len >= cap) {
        rc = OB_EINVAL;
    } else {
        memcpy(out, t, len + 1);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)out[i];
            if (c < 0x20 || c == 0x7f)
                out[i] = ' ';
        }
        ob_utf8_sanitize(out);
    }
    xmlFree(t);
    return rc;
}

/* A copy for messages: truncated rather than refused. */
static void text_trunc(const xmlNode *parent, const char *name, char *out, size_t cap)
{
    xmlNode *n = child(parent, name);
    xmlChar *t;

    out[0] = '\0';
    if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
        return;
    snprintf(out, cap, "%s", (const char *)t);
    xmlFree(t);
    for (char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    /* snprintf may have cut a UTF-8 sequence in two. */
    ob_utf8_sanitize(out);
}

int aws_xml_parse_error(const char *body, size_t len, struct aws_xml_error *out)
{
    xmlDocPtr doc = xml_read(body, len);
    xmlNode *root, *errors, *error;
    int rc = OB_ENOTFOUND;

    memset(out, 0, sizeof(*out));
    if (doc == NULL)
        return OB_EINVAL;
    root = xmlDocGetRootElement(doc);
    if (!is_elem(root, "Response"))
        goto out;
    errors = child(root, "Errors");
    error = errors != NULL ? child(errors, "Error") : NULL;
    if (error == NULL)
        goto out;
    text_trunc(error, "Code", out->code, sizeof(out->code));
    if (out->code[0] == '\0')
        goto out;
    text_trunc(error, "Message", out->message, sizeof(out->message));
    text_trunc(root, "RequestID", out->request_id, sizeof(out->request_id));
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

static int parse_port(const xmlNode *item, const char *name, int *out)
{
    char text[16];
    char *end;
    long v;

    *out = -1;
    if (text_of(item, name, text, sizeof(text)) != 0)
        return OB_EINVAL;
    if (text[0] == '\0')
        return 0;
    v = strtol(text, &end, 10);
    if (*end != '\0' || v < -1 || v > 65535)
        return OB_EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_item(const xmlNode *item, struct aws_rule *r)
{
    char egress[8], v6[sizeof(r->cidr)];

    memset(r, 0, sizeof(*r));
    if (text_of(item, "securityGroupRuleId", r->rule_id, sizeof(r->rule_id)) != 0 ||
        text_of(item, "groupId", r->group_id, sizeof(r->group_id)) != 0 ||
        text_of(item, "isEgress", egress, sizeof(egress)) != 0 ||
        text_of(item, "ipProtocol", r->protocol, sizeof(r->protocol)) != 0 ||
        text_of(item, "cidrIpv4", r->cidr, sizeof(r->cidr)) != 0 ||
        text_of(item, "cidrIpv6", v6, sizeof(v6)) != 0 ||
        text_of(item, "description", r->description, sizeof(r->description)) != 0 ||
        parse_port(item, "fromPort", &r->from_port) != 0 ||
        parse_port(item, "toPort", &r->to_port) != 0)
        return OB_EINVAL;
    if (r->rule_id[0] == '\0')
        return OB_EINVAL;
    if (strcmp(egress, "true") == 0)
        r->is_egress = 1;
    else if (egress[0] != '\0' && strcmp(egress, "false") != 0)
        return OB_EINVAL;
    if (r->cidr[0] == '\0')
        memcpy(r->cidr, v6, sizeof(v6));
    else if (v6[0] != '\0')
        return OB_EINVAL; /* one rule has one address range */
    return 0;
}

int aws_xml_parse_rules(const char *body, size_t len, struct aws_rule_list *out,
                        struct ob_error *err)
{
    xmlDocPtr doc = xml_read(body, len);
    xmlNode *root, *set;
    size_t n = 0, i = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (doc == NULL)
        return ob_fail(err, OB_EINVAL, "EC2 answer is not well-formed XML");
    root = xmlDocGetRootElement(doc);
    if (is_elem(root, "Response") && child(root, "Errors") != NULL) {
        rc = ob_fail(err, OB_EINVAL, "EC2 answered with an error document");
        goto out;
    }
    if (text_of(root, "nextToken", out->next_token, sizeof(out->next_token)) != 0) {
        rc = ob_fail(err, OB_EINVAL, "EC2 answer has an over-long nextToken");
        goto out;
    }
    set = child(root, "securityGroupRuleSet");
    if (set == NULL)
        goto out;
    for (xmlNode *c = set->children; c != NULL; c = c->next) {
        if (is_elem(c, "item"))
            n++;
    }
    if (n > AWS_RULES_MAX) {
        rc = ob_fail(err, OB_ETOOLARGE, "EC2 answer lists more than %d rules", AWS_RULES_MAX);
        goto out;
    }
    if (n == 0)
        goto out;
    out->items = calloc(n, sizeof(*out->items));
    if (out->items == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    for (xmlNode *c = set->children; c != NULL; c = c->next) {
        if (!is_elem(c, "item"))
            continue;
        if (parse_item(c, &out->items[i]) != 0) {
            rc = ob_fail(err, OB_EINVAL, "EC2 answer has a malformed security group rule (#%zu)",
                         i + 1);
            goto out;
        }
        i++;
    }
    out->count = i;
out:
    if (rc != 0)
        aws_rule_list_release(out);
    xmlFreeDoc(doc);
    return rc;
}

int aws_xml_parse_return(const char *body, size_t len, int *ok)
{
    xmlDocPtr doc = xml_read(body, len);
    char text[8];
    int rc = 0;

    *ok = 0;
    if (doc == NULL)
        return OB_EINVAL;
    if (text_of(xmlDocGetRootElement(doc), "return", text, sizeof(text)) != 0)
        rc = OB_EINVAL;
    else if (strcmp(text, "true") == 0)
        *ok = 1;
    else if (strcmp(text, "false") != 0)
        rc = OB_EINVAL;
    xmlFreeDoc(doc);
    return rc;
}

void aws_rule_list_release(struct aws_rule_list *l)
{
    if (l == NULL)
        return;
    free(l->items);
    memset(l, 0, sizeof(*l));
}
