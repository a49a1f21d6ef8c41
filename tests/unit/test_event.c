/*
 * test_event.c - the alert event model: enum names, severity parsing, label
 * look-up (binary search), Alertmanager's label-set fingerprint (against
 * Prometheus' own test vectors and an independent implementation of the
 * documented algorithm) and the release functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingest/event.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(alert_source_name(SOURCE_ALERTMANAGER_API), "alertmanager-api");
    assert_string_equal(alert_source_name(SOURCE_ALERTMANAGER_WEBHOOK), "alertmanager-webhook");
    assert_string_equal(alert_source_name(SOURCE_PAGERDUTY), "pagerduty");
    assert_string_equal(alert_source_name(SOURCE_GENERIC), "generic");
    assert_string_equal(alert_source_name(SOURCE_HEARTBEAT), "heartbeat");
    assert_string_equal(alert_source_name((enum alert_source)99), "unknown");
    assert_string_equal(alert_source_name((enum alert_source) - 1), "unknown");

    assert_string_equal(alert_action_name(ALERT_TRIGGER), "trigger");
    assert_string_equal(alert_action_name(ALERT_RESOLVE), "resolve");
    assert_string_equal(alert_action_name(ALERT_ACKNOWLEDGE), "acknowledge");
    assert_string_equal(alert_action_name((enum alert_action)3), "unknown");

    assert_string_equal(alert_severity_name(SEVERITY_CRITICAL), "critical");
    assert_string_equal(alert_severity_name(SEVERITY_ERROR), "error");
    assert_string_equal(alert_severity_name(SEVERITY_WARNING), "warning");
    assert_string_equal(alert_severity_name(SEVERITY_INFO), "info");
    assert_string_equal(alert_severity_name((enum alert_severity)4), "unknown");
}

static void test_severity_parse(void **state)
{
    enum alert_severity s = SEVERITY_INFO;

    (void)state;
    assert_int_equal(alert_severity_parse("critical", &s), 0);
    assert_int_equal(s, SEVERITY_CRITICAL);
    assert_int_equal(alert_severity_parse("error", &s), 0);
    assert_int_equal(s, SEVERITY_ERROR);
    assert_int_equal(alert_severity_parse("warning", &s), 0);
    assert_int_equal(s, SEVERITY_WARNING);
    assert_int_equal(alert_severity_parse("info", &s), 0);
    assert_int_equal(s, SEVERITY_INFO);
    assert_int_equal(alert_severity_parse("CRITICAL", &s), 0);
    assert_int_equal(s, SEVERITY_CRITICAL);
    assert_int_equal(alert_severity_parse("Warning", &s), 0);
    assert_int_equal(s, SEVERITY_WARNING);

    s = SEVERITY_INFO;
    assert_int_equal(alert_severity_parse("page", &s), OB_EINVAL);
    assert_int_equal(alert_severity_parse("", &s), OB_EINVAL);
    assert_int_equal(alert_severity_parse("critical ", &s), OB_EINVAL);
    assert_int_equal(alert_severity_parse("crit", &s), OB_EINVAL);
    assert_int_equal(alert_severity_parse("criticalx", &s), OB_EINVAL);
    assert_int_equal(alert_severity_parse(NULL, &s), OB_EINVAL);
    assert_int_equal(s, SEVERITY_INFO); /* untouched on failure */
}

/* ---- label look-up ----------------------------------------------------------- */

static void test_label_get(void **state)
{
    static const struct alert_label labels[] = {
        {"alertname", "HighLoad"},
        {"instance", "db1:9100"},
        {"job", "node"},
        {"severity", "page"},
        {"zone", ""},
    };
    const size_t n = sizeof(labels) / sizeof(labels[0]);

    (void)state;
    assert_string_equal(alert_label_get(labels, n, "alertname"), "HighLoad");
    assert_string_equal(alert_label_get(labels, n, "instance"), "db1:9100");
    assert_string_equal(alert_label_get(labels, n, "job"), "node");
    assert_string_equal(alert_label_get(labels, n, "severity"), "page");
    assert_string_equal(alert_label_get(labels, n, "zone"), "");
    assert_null(alert_label_get(labels, n, "a"));        /* before the first */
    assert_null(alert_label_get(labels, n, "zzz"));      /* after the last */
    assert_null(alert_label_get(labels, n, "jo"));       /* between, a prefix */
    assert_null(alert_label_get(labels, n, "jobs"));     /* between */
    assert_null(alert_label_get(labels, n, "Severity")); /* case matters */
    assert_null(alert_label_get(labels, n, ""));
    assert_null(alert_label_get(labels, 0, "job"));
    assert_null(alert_label_get(NULL, 0, "job"));
    assert_null(alert_label_get(labels, n, NULL));
    /* Only the first count labels are searched. */
    assert_null(alert_label_get(labels, 2, "job"));
    assert_string_equal(alert_label_get(labels, 1, "alertname"), "HighLoad");
}

static void test_label_get_every_size(void **state)
{
    enum { N = 130 };
    struct alert_label labels[N];
    char names[N][16];
    char values[N][16];

    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "l%03d", i * 2); /* even numbers only */
        snprintf(values[i], sizeof(values[i]), "v%d", i);
        labels[i].name = names[i];
        labels[i].value = values[i];
    }
    for (size_t count = 0; count <= N; count++) {
        for (int i = 0; i < N; i++) {
            char probe[16];
            const char *got = alert_label_get(labels, count, names[i]);
            if ((size_t)i < count)
                assert_string_equal(got, values[i]);
            else
                assert_null(got);
            snprintf(probe, sizeof(probe), "l%03d", i * 2 + 1); /* odd: never present */
            assert_null(alert_label_get(labels, count, probe));
        }
    }
}

/* ---- fingerprint ------------------------------------------------------------- */

/*
 * The documented algorithm, written independently and plainly: sort the
 * names, concatenate name 0xff value 0xff for each into one buffer, then
 * FNV-1a 64 over the buffer.
 */
static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct alert_label *)a)->name, ((const struct alert_label *)b)->name);
}

static void ref_fingerprint(const struct alert_label *in, size_t count, char out[17])
{
    struct alert_label *sorted = calloc(count + 1, sizeof(*sorted));
    unsigned char *buf;
    size_t len = 0;
    size_t cap = 1;
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 offset basis */

    assert_non_null(sorted);
    for (size_t i = 0; i < count; i++) {
        sorted[i] = in[i];
        cap += strlen(in[i].name) + strlen(in[i].value) + 2;
    }
    qsort(sorted, count, sizeof(*sorted), ref_cmp);
    buf = malloc(cap);
    assert_non_null(buf);
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(sorted[i].name);
        memcpy(buf + len, sorted[i].name, n);
        len += n;
        buf[len++] = 255;
        n = strlen(sorted[i].value);
        memcpy(buf + len, sorted[i].value, n);
        len += n;
        buf[len++] = 255;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= buf[i];
        h *= 1099511628211ULL; /* FNV-1a 64 prime */
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    free(buf);
    free(sorted);
}

static void test_fingerprint_empty(void **state)
{
    char fp[17];

    (void)state;
    memset(fp, 'x', sizeof(fp));
    alert_fingerprint(NULL, 0, fp);
    assert_string_equal(fp, "cbf29ce484222325");
}

/* Values from prometheus/common model/signature_test.go (decimal there):
 * 5799056148416392346, 5146282821936882169, 3195800080984914717,
 * 13843036195897128121. */
static void test_fingerprint_prometheus_vectors(void **state)
{
    static const struct alert_label two[] = {
        {"fear", "love is not enough"},
        {"name", "garland, briggs"},
    };
    static const struct alert_label one[] = {{"first-label", "first-label-value"}};
    static const struct alert_label three[] = {
        {"first-label", "first-label-value"},
        {"second-label", "second-label-value"},
        {"third-label", "third-label-value"},
    };
    char fp[17];

    (void)state;
    alert_fingerprint(two, 2, fp);
    assert_string_equal(fp, "507a62d79ee76c9a");
    alert_fingerprint(one, 1, fp);
    assert_string_equal(fp, "476b44f5db3e21f9");
    alert_fingerprint(three, 2, fp);
    assert_string_equal(fp, "2c59c33dd8453b1d");
    alert_fingerprint(three, 3, fp);
    assert_string_equal(fp, "c01c58139d52b4b9");
    assert_int_equal(strtoull("507a62d79ee76c9a", NULL, 16), 5799056148416392346ULL);
    assert_int_equal(strtoull("c01c58139d52b4b9", NULL, 16), 13843036195897128121ULL);
}

static void test_fingerprint_matches_reference(void **state)
{
    static const struct alert_label sets[][4] = {
        {{"alertname", "ProbeFailure"},
         {"instance", "https://server.example.org"},
         {"job", "http_checks"},
         {"severity", "critical"}},
        {{"zone", "eu-1"}, {"alertname", "High CPU usage"}, {"team", "blue"}, {"a", ""}},
        {{"x", "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"}, {"_", "0"}, {"A", "upper"}, {"a", "lower"}},
    };
    char want[17];
    char got[17];

    (void)state;
    for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
        for (size_t n = 0; n <= 4; n++) {
            ref_fingerprint(sets[s], n, want);
            alert_fingerprint(sets[s], n, got);
            assert_string_equal(got, want);
            assert_int_equal(strlen(got), 16);
        }
    }
    /* A pseudo-random mix, in and out of order. */
    srand(1234);
    for (int round = 0; round < 200; round++) {
        struct alert_label labels[20];
        char names[20][32];
        char values[20][16];
        size_t n = (size_t)(rand() % 20);
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof(names[i]), "n%zu_%d", i, rand() % 1000);
            snprintf(values[i], sizeof(values[i]), "%d", rand());
            labels[i].name = names[i];
            labels[i].value = values[i];
        }
        ref_fingerprint(labels, n, want);
        alert_fingerprint(labels, n, got);
        assert_string_equal(got, want);
    }
}

static void test_fingerprint_order_and_separator(void **state)
{
    static const struct alert_label sorted[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    static const struct alert_label shuffled[] = {{"c", "3"}, {"a", "1"}, {"b", "2"}};
    /* Without the separator byte these two would hash alike ("abc"). */
    static const struct alert_label ab_c[] = {{"ab", "c"}};
    static const struct alert_label a_bc[] = {{"a", "bc"}};
    char fp1[17];
    char fp2[17];

    (void)state;
    alert_fingerprint(sorted, 3, fp1);
    alert_fingerprint(shuffled, 3, fp2);
    assert_string_equal(fp1, fp2);
    alert_fingerprint(ab_c, 1, fp1);
    alert_fingerprint(a_bc, 1, fp2);
    assert_string_not_equal(fp1, fp2);
    /* Lower-case hex, always 16 digits (leading zeros kept). */
    for (size_t i = 0; i < 16; i++)
        assert_true((fp1[i] >= '0' && fp1[i] <= '9') || (fp1[i] >= 'a' && fp1[i] <= 'f'));
    assert_int_equal(fp1[16], '\0');
}

/* ---- release ----------------------------------------------------------------- */

static struct alert_label *make_labels(size_t n)
{
    struct alert_label *l = calloc(n, sizeof(*l));

    assert_non_null(l);
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "n%zu", i);
        l[i].name = strdup(buf);
        l[i].value = strdup("v");
    }
    return l;
}

static void fill_event(struct alert_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->integration_key = strdup("k");
    ev->service = strdup("s");
    ev->dedup_key = strdup("d");
    ev->summary = strdup("sum");
    ev->source_name = strdup("src");
    ev->generator_url = strdup("http://x");
    ev->labels = make_labels(3);
    ev->label_count = 3;
    ev->annotations = make_labels(2);
    ev->annotation_count = 2;
    ev->details_json = strdup("{}");
    ev->starts_at_ms = 5;
    memcpy(ev->fingerprint, "0123456789abcdef", 17);
}

static void test_release(void **state)
{
    static const struct alert_event zero_ev;
    struct alert_event ev;
    struct alert_batch batch;

    (void)state;
    alert_event_release(NULL);
    alert_batch_release(NULL);

    fill_event(&ev);
    alert_event_release(&ev);
    assert_memory_equal(&ev, &zero_ev, sizeof(ev));
    alert_event_release(&ev); /* twice is harmless */

    batch.count = 3;
    batch.events = calloc(3, sizeof(*batch.events));
    assert_non_null(batch.events);
    fill_event(&batch.events[0]);
    fill_event(&batch.events[2]); /* [1] stays empty: NULL members are fine */
    alert_batch_release(&batch);
    assert_null(batch.events);
    assert_int_equal(batch.count, 0);
    alert_batch_release(&batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_severity_parse),
        cmocka_unit_test(test_label_get),
        cmocka_unit_test(test_label_get_every_size),
        cmocka_unit_test(test_fingerprint_empty),
        cmocka_unit_test(test_fingerprint_prometheus_vectors),
        cmocka_unit_test(test_fingerprint_matches_reference),
        cmocka_unit_test(test_fingerprint_order_and_separator),
        cmocka_unit_test(test_release),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
