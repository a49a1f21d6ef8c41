/*
 * aws.c - the AWS security-group enforcer: EC2 Query API calls over a
 * libcurl easy handle, signed by aws_sigv4_sign (aws.h, docs/AWS.md).
 *
 * One request is one POST of an application/x-www-form-urlencoded body to
 * the endpoint's "/", with the headers Host, X-Amz-Date, Content-Type and
 * (temporary credentials) X-Amz-Security-Token, all signed.
 */
#include "enforce/aws.h"

#include "util/error.h"
#include "util/strbuf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AWS_CONNECT_TIMEOUT_MS 5000L
#define AWS_TOTAL_TIMEOUT_MS   20000L
#define AWS_FORM_TYPE          "application/x-www-form-urlencoded; charset=utf-8"

/* ---- pure helpers ---------------------------------------------------------------- */

/* Characters EC2 accepts in a rule description, minus the space (our separator). */
static int desc_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("._-:/()#,@[]+=&;{}!$*", c) != NULL;
}

static int64_t timegm_ms(const struct tm *tm)
{
    struct tm copy = *tm;
    time_t t = timegm(&copy);

    return (int64_t)t * 1000;
}

int aws_description_format(const char *id, int64_t expires_at_ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(expires_at_ms / 1000);
    struct tm tm;
    char when[32];
    int n;

    if (id == NULL || id[0] == '\0' || expires_at_ms < 0)
        return OB_EINVAL;
    for (const char *p = id; *p != '\0'; p++) {
        if (!desc_char_ok(*p))
            return OB_EINVAL;
    }
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return OB_EINVAL;
    n = snprintf(buf, cap, AWS_DESC_PREFIX "%s until %s", id, when);
    if (n < 0 || (size_t)n >= cap || n > AWS_DESC_MAX)
        return OB_EINVAL;
    return 0;
}

int aws_description_parse(const char *desc, char *id, size_t id_cap, int64_t *expires_at_ms)
{
    const char *start, *until;
    struct tm tm;
    char *end;
    size_t id_len;

    if (desc == NULL || strncmp(desc, AWS_DESC_PREFIX, strlen(AWS_DESC_PREFIX)) != 0)
        return OB_EINVAL;
    start = desc + strlen(AWS_DESC_PREFIX);
    until = strstr(start, " until ");
    if (until == NULL || until == start)
        return OB_EINVAL;
    id_len = (size_t)(until - start);
    for (size_t i = 0; i < id_len; i++) {
        if (!desc_char_ok(start[i]))
            return OB_EINVAL;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(until + 7, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0' || strlen(until + 7) != 20)
        return OB_EINVAL;
    if (id != NULL) {
        if (id_len >= id_cap)
            return OB_EINVAL;
        memcpy(id, start, id_len);
        id[id_len] = '\0';
    }
    *expires_at_ms = timegm_ms(&tm);
    /* Only the canonical form: "2026-02-30" would silently become March 2. */
    {
        time_t secs = (time_t)(*expires_at_ms / 1000);
        struct tm back;
        char again[32];
        if (gmtime_r(&secs, &back) == NULL ||
            strftime(again, sizeof(again), "%Y-%m-%dT%H:%M:%SZ", &back) == 0 ||
            strcmp(again, until + 7) != 0)
            return OB_EINVAL;
    }
    return 0;
}

int aws_cidr_normalise(const char *in, char *out, size_t cap, struct ob_error *err)
{
    struct cidr c;
    int rc = cidr_parse(in != NULL ? in : "", &c, err);

    if (rc != 0)
        return rc;
    if (c.prefix == 0)
        return ob_fail(err, OB_EINVAL, "'%.80s' would open SSH to every address; refused", in);
    if (cap < CIDR_TEXT_MAX)
        return ob_fail(err, OB_EINVAL, "address too long");
    cidr_format(&c, out, cap);
    return c.family == AF_INET ? 4 : 6;
}

/* ---- HTTP ------------------------------------------------------------------------- */

struct body {
    struct strbuf sb;
    int too_large;
};

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    struct body *b = user;
    size_t len = size * n;

    if (b->sb.len + len > AWS_RESPONSE_MAX) {
        b->too_large = 1;
        return 0;
    }
    strbuf_add(&b->sb, data, len);
    return len;
}

/* A value that goes into a header or the signing scope: printable ASCII, no space. */
static int header_safe(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    }
    return 1;
}

int aws_ctx_init(struct aws_ctx *ctx, const struct aws_params *params, struct ob_error *err)
{
    memset(ctx, 0, sizeof(*ctx));
    if (params->region == NULL || params->security_group_id == NULL || params->endpoint == NULL ||
        params->access_key_id == NULL || params->secret_access_key == NULL)
        return ob_fail(err, OB_EINVAL, "aws enforcer: incomplete settings");
    /* A CR or LF would end a header early and smuggle another one in. */
    if (!header_safe(params->region) || !header_safe(params->access_key_id) ||
        !header_safe(params->security_group_id) || !header_safe(params->endpoint) ||
        (params->session_token != NULL && !header_safe(params->session_token)))
        return ob_fail(err, OB_EINVAL,
                       "aws enforcer: region, group, key id, endpoint and session token must be "
                       "printable ASCII without spaces");
    if (strncmp(params->endpoint, "http://", 7) != 0 &&
        strncmp(params->endpoint, "https://", 8) != 0)
        return ob_fail(err, OB_EINVAL, "aws enforcer: endpoint must be http:// or https://");
    ctx->p = *params;
    if (ctx->p.port == 0)
        ctx->p.port = 22;
    if (ctx->p.timeout_ms <= 0)
        ctx->p.timeout_ms = AWS_TOTAL_TIMEOUT_MS;
    ctx->curl = curl_easy_init();
    if (ctx->curl == NULL)
        return ob_fail(err, OB_ENOMEM, "aws enforcer: cannot create a libcurl handle");
    return 0;
}

void aws_ctx_release(struct aws_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->curl != NULL)
        curl_easy_cleanup(ctx->curl);
    memset(ctx, 0, sizeof(*ctx));
}

/* "host[:port]" of the endpoint, as curl sends it in Host. */
static int endpoint_host(const char *endpoint, char *out, size_t cap)
{
    const char *p = strstr(endpoint, "://");
    size_t len;

    if (p == NULL)
        return OB_EINVAL;
    p += 3;
    len = strcspn(p, "/?#");
    if (len == 0 || len >= cap || memchr(p, '@', len) != NULL)
        return OB_EINVAL;
    memcpy(out, p, len);
    out[len] = '\0';
    /* Default ports are left out of Host by curl: sign what is sent. */
    if (strncmp(endpoint, "https://", 8) == 0 && len > 4 && strcmp(out + len - 4, ":443") == 0)
        out[len - 4] = '\0';
    if (strncmp(endpoint, "http://", 7) == 0 && len > 3 && strcmp(out + len - 3, ":80") == 0)
        out[len - 3] = '\0';
    return 0;
}

/* Append "&name=value" (value encoded) to a form. */
static void form_add(struct strbuf *form, const char *name, const char *value)
{
    char *enc = aws_uri_encode(value);

    if (form->len > 0)
        strbuf_addch(form, '&');
    strbuf_addf(form, "%s=%s", name, enc != NULL ? enc : "");
    free(enc);
}

struct reply {
    long status;
    struct body body;
};

/* Map an EC2 error document (or a bare status) to a code and one line. */
static int ec2_error(const struct aws_ctx *ctx, const char *action, const struct reply *r,
                     struct ob_error *err)
{
    struct aws_xml_error x;
    int code;

    if (aws_xml_parse_error(strbuf_str(&r->body.sb), r->body.sb.len, &x) != 0) {
        code = r->status >= 500 || r->status == 429 ? OB_EUNAVAILABLE : OB_EINTERNAL;
        return ob_fail(err, code, "EC2 %s failed: HTTP %ld without an EC2 error document", action,
                       r->status);
    }
    if (strcmp(x.code, "AuthFailure") == 0 || strcmp(x.code, "SignatureDoesNotMatch") == 0 ||
        strcmp(x.code, "InvalidClientTokenId") == 0 || strcmp(x.code, "AuthFailure.Token") == 0 ||
        strcmp(x.code, "ExpiredToken") == 0 || strcmp(x.code, "RequestExpired") == 0 ||
        strcmp(x.code, "MissingAuthenticationToken") == 0 ||
        strcmp(x.code, "IncompleteSignature") == 0 || strcmp(x.code, "OptInRequired") == 0)
        code = OB_EUNAUTH;
    else if (strcmp(x.code, "UnauthorizedOperation") == 0 ||
             strcmp(x.code, "Client.UnauthorizedOperation") == 0)
        code = OB_EFORBIDDEN;
    else if (strcmp(x.code, "InvalidPermission.Duplicate") == 0)
        code = OB_ECONFLICT;
    else if (strcmp(x.code, "RulesPerSecurityGroupLimitExceeded") == 0)
        return ob_fail(err, OB_ETOOLARGE,
                       "EC2 %s failed: security group %s is full "
                       "(RulesPerSecurityGroupLimitExceeded: its quota of inbound rules, 60 by "
                       "default, is reached; revoke rules or raise the quota): %s",
                       action, ctx->p.security_group_id, x.message);
    else if (strcmp(x.code, "InvalidGroup.NotFound") == 0 ||
             strcmp(x.code, "InvalidSecurityGroupRuleId.NotFound") == 0 ||
             strcmp(x.code, "InvalidGroupId.Malformed") == 0)
        code = OB_ENOTFOUND;
    else if (strcmp(x.code, "RequestLimitExceeded") == 0 || strcmp(x.code, "Throttling") == 0 ||
             strcmp(x.code, "Unavailable") == 0 || strcmp(x.code, "ServiceUnavailable") == 0 ||
             strcmp(x.code, "InternalError") == 0 || r->status >= 500)
        code = OB_EUNAVAILABLE;
    else
        code = OB_EINVAL;
    return ob_fail(err, code, "EC2 %s failed: %s%s%s (HTTP %ld%s%s)", action, x.code,
                   x.message[0] != '\0' ? ": " : "", x.message, r->status,
                   x.request_id[0] != '\0' ? ", request " : "", x.request_id);
}

/*
 * POST one signed Query API request. Returns 0 with r filled for a 200,
 * else a code with the EC2 error in err (r is filled too, for callers that
 * look at the error code).
 */
static int ec2_call(struct aws_ctx *ctx, const char *action, const struct strbuf *params,
                    struct reply *r, struct ob_error *err)
{
    struct strbuf form = STRBUF_INIT, hdr = STRBUF_INIT, url = STRBUF_INIT;
    struct aws_sigv4_header h[4];
    struct aws_sigv4_input in;
    struct aws_sigv4_result sig = {0};
    struct curl_slist *list = NULL;
    char host[256], amz_date[17];
    time_t now = time(NULL);
    struct tm tm;
    CURLcode cc;
    int rc;

    memset(r, 0, sizeof(*r));
    strbuf_init(&r->body.sb);
    if (endpoint_host(ctx->p.endpoint, host, sizeof(host)) != 0)
        return ob_fail(err, OB_EINVAL, "aws enforcer: cannot take the host from the endpoint");
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
    strbuf_addf(&form, "Action=%s&Version=%s", action, AWS_EC2_VERSION);
    if (params->len > 0)
        strbuf_addf(&form, "&%s", strbuf_str(params));

    h[0] = (struct aws_sigv4_header){"content-type", AWS_FORM_TYPE};
    h[1] = (struct aws_sigv4_header){"host", host};
    h[2] = (struct aws_sigv4_header){"x-amz-date", amz_date};
    h[3] = (struct aws_sigv4_header){"x-amz-security-token", ctx->p.session_token};
    memset(&in, 0, sizeof(in));
    in.method = "POST";
    in.path = "/";
    in.query = "";
    in.headers = h;
    in.header_count = ctx->p.session_token != NULL ? 4 : 3;
    in.payload = form.buf;
    in.payload_len = form.len;
    in.amz_date = amz_date;
    in.region = ctx->p.region;
    in.service = "ec2";
    in.access_key_id = ctx->p.access_key_id;
    in.secret = (const unsigned char *)ctx->p.secret_access_key;
    in.secret_len = ctx->p.secret_access_key_len;
    rc = aws_sigv4_sign(&in, &sig);
    if (rc != 0) {
        rc = ob_fail(err, rc, "aws enforcer: cannot sign the request");
        goto out;
    }

    strbuf_addf(&hdr, "Authorization: %s", sig.authorization);
    list = curl_slist_append(list, strbuf_str(&hdr));
    strbuf_reset(&hdr);
    strbuf_addf(&hdr, "X-Amz-Date: %s", amz_date);
    list = curl_slist_append(list, strbuf_str(&hdr));
    list = curl_slist_append(list, "Content-Type: " AWS_FORM_TYPE);
    if (ctx->p.session_token != NULL) {
        strbuf_reset(&hdr);
        strbuf_addf(&hdr, "X-Amz-Security-Token: %s", ctx->p.session_token);
        list = curl_slist_append(list, strbuf_str(&hdr));
    }
    list = curl_slist_append(list, "Expect:");
    list = curl_slist_append(list, "Accept:");
    if (list == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    strbuf_adds(&url, ctx->p.endpoint);
    if (url.len == 0 || url.buf[url.len - 1] != '/')
        strbuf_addch(&url, '/');

    curl_easy_reset(ctx->curl);
    curl_easy_setopt(ctx->curl, CURLOPT_URL, strbuf_str(&url));
    curl_easy_setopt(ctx->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(ctx->curl, CURLOPT_POSTFIELDS, form.buf);
    curl_easy_setopt(ctx->curl, CURLOPT_POSTFIELDSIZE, (long)form.len);
    curl_easy_setopt(ctx->curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(ctx->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(ctx->curl, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(ctx->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ctx->curl, CURLOPT_CONNECTTIMEOUT_MS, AWS_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(ctx->curl, CURLOPT_TIMEOUT_MS, ctx->p.timeout_ms);
    curl_easy_setopt(ctx->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(ctx->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(ctx->curl, CURLOPT_USERAGENT, "opsbell");
    cc = curl_easy_perform(ctx->curl);
    if (r->body.too_large) {
        rc = ob_fail(err, OB_ETOOLARGE, "EC2 %s: answer larger than %d bytes", action,
                     AWS_RESPONSE_MAX);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = ob_fail(err, OB_EUNAVAILABLE, "EC2 %s: cannot reach %s: %s", action, host,
                     curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &r->status);
    rc = r->status == 200 ? 0 : ec2_error(ctx, action, r, err);
out:
    /* The signed form and headers hold no secret; the token header does. */
    if (hdr.buf != NULL)
        memset(hdr.buf, 0, hdr.cap);
    curl_slist_free_all(list);
    aws_sigv4_result_release(&sig);
    strbuf_release(&form);
    strbuf_release(&hdr);
    strbuf_release(&url);
    return rc;
}

static void reply_release(struct reply *r)
{
    strbuf_release(&r->body.sb);
}

/* The code of the EC2 error in r ("" when there is none). */
static int reply_is(const struct reply *r, const char *code)
{
    struct aws_xml_error x;

    return aws_xml_parse_error(strbuf_str(&r->body.sb), r->body.sb.len, &x) == 0 &&
           strcmp(x.code, code) == 0;
}

/* ---- operations ----------------------------------------------------------------------- */

/* The IpPermissions.1 parameters of one TCP port from cidr, with desc. */
static void add_permission(struct strbuf *params, const struct aws_ctx *ctx, int family,
                           const char *cidr, const char *desc)
{
    char port[8];

    snprintf(port, sizeof(port), "%u", ctx->p.port);
    form_add(params, "GroupId", ctx->p.security_group_id);
    form_add(params, "IpPermissions.1.IpProtocol", "tcp");
    form_add(params, "IpPermissions.1.FromPort", port);
    form_add(params, "IpPermissions.1.ToPort", port);
    if (family == 4) {
        form_add(params, "IpPermissions.1.IpRanges.1.CidrIp", cidr);
        form_add(params, "IpPermissions.1.IpRanges.1.Description", desc);
    } else {
        form_add(params, "IpPermissions.1.Ipv6Ranges.1.CidrIpv6", cidr);
        form_add(params, "IpPermissions.1.Ipv6Ranges.1.Description", desc);
    }
}

/*
 * EC2 said the permission exists (it ignores descriptions when comparing).
 * Find that rule; when it is opsbell's and ends before the new expiry, move
 * its expiry (UpdateSecurityGroupRuleDescriptionsIngress), or the sweeper
 * would close it early.  A rule of someone else is left as it is.
 */
static int authorize_existing(struct aws_ctx *ctx, int family, const char *cidr, const char *desc,
                              int64_t expires_at_ms, struct aws_authorize_result *res,
                              struct ob_error *err)
{
    struct aws_rule_list rules;
    const struct aws_rule *found = NULL;
    int64_t old_ms;
    int rc = aws_list(ctx, &rules, err);

    res->already_present = 1;
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < rules.count && found == NULL; i++) {
        const struct aws_rule *r = &rules.items[i];
        char norm[64];
        if (strcmp(r->protocol, "tcp") == 0 && r->from_port == (int)ctx->p.port &&
            r->to_port == (int)ctx->p.port &&
            aws_cidr_normalise(r->cidr, norm, sizeof(norm), NULL) > 0 && strcmp(norm, cidr) == 0)
            found = r;
    }
    if (found == NULL)
        goto out; /* a wider permission, or gone again: nothing to extend */
    snprintf(res->rule_id, sizeof(res->rule_id), "%s", found->rule_id);
    if (aws_description_parse(found->description, NULL, 0, &old_ms) != 0) {
        res->foreign = 1;
        res->expires_at_ms = 0;
    } else if (old_ms >= expires_at_ms / 1000 * 1000) {
        res->expires_at_ms = old_ms;
    } else {
        struct strbuf params = STRBUF_INIT;
        struct reply r;
        int ok = 0;

        add_permission(&params, ctx, family, cidr, desc);
        rc = ec2_call(ctx, "UpdateSecurityGroupRuleDescriptionsIngress", &params, &r, err);
        if (rc == 0 &&
            (aws_xml_parse_return(strbuf_str(&r.body.sb), r.body.sb.len, &ok) != 0 || !ok))
            rc = ob_fail(err, OB_EINTERNAL,
                         "EC2 UpdateSecurityGroupRuleDescriptionsIngress did not answer true");
        if (rc == 0)
            res->extended = 1;
        reply_release(&r);
        strbuf_release(&params);
    }
out:
    aws_rule_list_release(&rules);
    return rc;
}

int aws_authorize(struct aws_ctx *ctx, const struct access_entry *entry,
                  struct aws_authorize_result *res, struct ob_error *err)
{
    struct strbuf params = STRBUF_INIT;
    struct aws_rule_list rules;
    struct reply r;
    char cidr[64], desc[AWS_DESC_MAX + 1];
    int family, rc;

    memset(res, 0, sizeof(*res));
    family = aws_cidr_normalise(entry->cidr, cidr, sizeof(cidr), err);
    if (family < 0)
        return family;
    if (aws_description_format(entry->id, entry->expires_at_ms, desc, sizeof(desc)) != 0)
        return ob_fail(err, OB_EINVAL,
                       "id '%.64s' cannot go into an EC2 description (letters, digits and "
                       "._-:/()#,@[]+=&;{}!$* only)",
                       entry->id);
    res->expires_at_ms = entry->expires_at_ms / 1000 * 1000;
    add_permission(&params, ctx, family, cidr, desc);
    rc = ec2_call(ctx, "AuthorizeSecurityGroupIngress", &params, &r, err);
    if (rc == OB_ECONFLICT && reply_is(&r, "InvalidPermission.Duplicate")) {
        ob_error_clear(err);
        rc = authorize_existing(ctx, family, cidr, desc, entry->expires_at_ms, res, err);
    } else if (rc == 0) {
        struct ob_error why = {0};

        if (aws_xml_parse_rules(strbuf_str(&r.body.sb), r.body.sb.len, &rules, &why) != 0) {
            rc = ob_fail(err, OB_EINTERNAL,
                         "EC2 AuthorizeSecurityGroupIngress: unreadable answer (%s)", why.msg);
        } else {
            if (rules.count > 0)
                snprintf(res->rule_id, sizeof(res->rule_id), "%s", rules.items[0].rule_id);
            aws_rule_list_release(&rules);
        }
    }
    reply_release(&r);
    strbuf_release(&params);
    return rc;
}

int aws_revoke(struct aws_ctx *ctx, const char *rule_id, struct ob_error *err)
{
    struct strbuf params = STRBUF_INIT;
    struct reply r;
    int rc, ok = 0;

    if (rule_id == NULL || strncmp(rule_id, "sgr-", 4) != 0 || strlen(rule_id) > 60)
        return ob_fail(err, OB_EINVAL, "'%.64s' is not a security group rule id (sgr-...)",
                       rule_id != NULL ? rule_id : "");
    form_add(&params, "GroupId", ctx->p.security_group_id);
    form_add(&params, "SecurityGroupRuleId.1", rule_id);
    rc = ec2_call(ctx, "RevokeSecurityGroupIngress", &params, &r, err);
    if (rc == 0 && (aws_xml_parse_return(strbuf_str(&r.body.sb), r.body.sb.len, &ok) != 0 || !ok))
        rc = ob_fail(err, OB_EINTERNAL, "EC2 RevokeSecurityGroupIngress did not answer true");
    reply_release(&r);
    strbuf_release(&params);
    return rc;
}

int aws_list(struct aws_ctx *ctx, struct aws_rule_list *out, struct ob_error *err)
{
    struct aws_rule_list page;
    char token[sizeof(page.next_token)] = "";
    int rc = 0;

    memset(out, 0, sizeof(*out));
    for (int pages = 0; pages < 100; pages++) {
        struct strbuf params = STRBUF_INIT;
        struct reply r;
        struct aws_rule *grown;

        form_add(&params, "Filter.1.Name", "group-id");
        form_add(&params, "Filter.1.Value.1", ctx->p.security_group_id);
        form_add(&params, "MaxResults", "1000");
        if (token[0] != '\0')
            form_add(&params, "NextToken", token);
        rc = ec2_call(ctx, "DescribeSecurityGroupRules", &params, &r, err);
        strbuf_release(&params);
        if (rc == 0)
            rc = aws_xml_parse_rules(strbuf_str(&r.body.sb), r.body.sb.len, &page, err);
        reply_release(&r);
        if (rc != 0)
            break;
        if (out->count + page.count > AWS_RULES_MAX) {
            aws_rule_list_release(&page);
            rc = ob_fail(err, OB_ETOOLARGE, "the group has more than %d rules", AWS_RULES_MAX);
            break;
        }
        grown = realloc(out->items, (out->count + page.count + 1) * sizeof(*grown));
        if (grown == NULL) {
            aws_rule_list_release(&page);
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            break;
        }
        out->items = grown;
        for (size_t i = 0; i < page.count; i++) {
            if (!page.items[i].is_egress)
                out->items[out->count++] = page.items[i];
        }
        snprintf(token, sizeof(token), "%s", page.next_token);
        aws_rule_list_release(&page);
        if (token[0] == '\0')
            return 0;
    }
    if (rc == 0)
        rc = ob_fail(err, OB_ETOOLARGE, "DescribeSecurityGroupRules: more than 100 pages");
    aws_rule_list_release(out);
    return rc;
}

int aws_sweep(struct aws_ctx *ctx, int64_t now_ms, unsigned *revoked, struct ob_error *err)
{
    struct aws_rule_list rules;
    struct ob_error one;
    int64_t expires;
    int rc, first = 0;

    if (revoked != NULL)
        *revoked = 0;
    rc = aws_list(ctx, &rules, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < rules.count; i++) {
        const struct aws_rule *rule = &rules.items[i];
        if (aws_description_parse(rule->description, NULL, 0, &expires) != 0 || expires > now_ms)
            continue;
        ob_error_clear(&one);
        rc = aws_revoke(ctx, rule->rule_id, &one);
        if (rc == 0 || rc == OB_ENOTFOUND) {
            if (revoked != NULL)
                (*revoked)++;
        } else if (first == 0) {
            first = rc;
            ob_fail(err, rc, "%s", one.msg);
        }
    }
    aws_rule_list_release(&rules);
    return first;
}
