/*
 * fuzz_agent_state.c - libFuzzer target for the agent's state document
 * (src/agent/agent_state.c): what the opsbell server sends every host, and
 * what a host reads back from its cache after a reboot.  Checked: a refused
 * document leaves a one-line message and nothing allocated; an accepted one
 * has a valid host, entries with safe ids and normalised CIDRs, keys with
 * valid login names in cache order (sorted by login) whose lines parse
 * again, a CA line that parses again, a KRL with its magic, and a policy
 * check that never crashes.  The first line of the input, when it is short,
 * is also tried as an ETag header value.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_agent_state fuzz/corpus/fuzz_agent_state
 */
#include "agent/agent.h"
#include "keys/keys.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_etag(const char *text, size_t len)
{
    char out[AGENT_ETAG_MAX + 1];
    size_t n = 0;

    while (n < len && n < 200 && text[n] != '\n')
        n++;
    if (agent_etag_parse(text, n, out, sizeof(out)) != 0)
        return;
    if (strlen(out) > AGENT_ETAG_MAX || out[strlen(out) - 1] != '"')
        abort();
    for (const char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agent_state st;
    struct ob_error err = {0};
    const char *text = (const char *)data;
    int rc;

    check_etag(text, size);
    rc = agent_state_parse(text, size, size % 2 ? "web1" : NULL, &st, &err);
    if (rc != 0) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL || st.entries != NULL ||
            st.keys != NULL || st.ssh_ca != NULL || st.krl != NULL)
            abort();
        return 0;
    }
    if (st.host[0] == '\0' || (size % 2 && strcmp(st.host, "web1") != 0))
        abort();
    for (size_t i = 0; i < st.entry_count; i++) {
        char norm[CIDR_TEXT_MAX];

        if (access_entry_check_id(st.entries[i].id, NULL) != 0)
            abort();
        if (cidr_normalise(st.entries[i].cidr, norm, sizeof(norm), NULL) != 0 ||
            strcmp(norm, st.entries[i].cidr) != 0)
            abort();
    }
    for (size_t i = 0; i < st.key_count; i++) {
        struct keys_key k;

        if (!agent_login_is_valid(st.keys[i].login))
            abort();
        if (i > 0 && strcmp(st.keys[i - 1].login, st.keys[i].login) > 0)
            abort();
        if (keys_parse_line(st.keys[i].line, strlen(st.keys[i].line), &k, NULL) != 0)
            abort();
        keys_key_release(&k);
    }
    if (st.ssh_ca != NULL) {
        struct keys_key k;

        if (keys_parse_line(st.ssh_ca, strlen(st.ssh_ca), &k, NULL) != 0)
            abort();
        keys_key_release(&k);
    }
    if (st.krl != NULL && (st.krl_len < 12 || memcmp(st.krl, "SSHKRL\n", 8) != 0))
        abort();
    (void)agent_state_check_policy(&st, 24, 48, NULL);
    agent_state_release(&st);
    return 0;
}
