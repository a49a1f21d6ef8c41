/*
 * sip.h - the SIP user agent that rings phones: outbound calls over UDP
 * (libre: sip, sipsess, sdp, rtp, telev), a spoken prompt (tts.h) sent as
 * G.711 mu-law in 20 ms RTP packets, keys pressed on the phone (RFC 4733
 * telephone-event, and SIP INFO application/dtmf-relay or application/dtmf),
 * and the outcome of each call.
 *
 * This header never includes <re.h>: re.h declares names (JSON_STRING ...)
 * that clash with jansson, so all libre code stays in src/sip/agent.c.
 *
 * Threads.  One agent per process runs libre's re_main on its own thread
 * (the "SIP thread"); every libre object lives and dies there.  Other
 * threads talk to it only through the functions below, which hand their
 * requests over with an mqueue.  Speech is synthesized on the caller's
 * thread (tts is slow and holds a lock), never on the SIP thread, so a
 * long text never delays the RTP of other calls.
 *
 * Calls are named by a number (uint64_t, never 0) rather than a pointer: a
 * number of a call that has ended is simply unknown, so a late
 * sip_call_say() from another thread is harmless.
 */
#ifndef OPSBELL_SIP_SIP_H
#define OPSBELL_SIP_SIP_H

#include <stddef.h>
#include <stdint.h>

struct ob_error;
struct sip_agent;

/* What the agent needs, copied by sip_agent_start() (strings included). */
struct sip_agent_config {
    const char *listen_host;    /* "0.0.0.0" = the default source address */
    uint16_t listen_port;       /* 0 = any free port */
    const char *from_uri;       /* sip:opsbell@pbx.example.com */
    const char *outbound_proxy; /* NULL or sip:proxy.example.com[:port] */
    const char *username;       /* digest auth user; NULL = from_uri's user */
    const char *password;       /* NULL = no digest auth; copied, wiped on stop */
    size_t password_len;
    uint32_t ring_timeout_ms; /* no answer after this: NO_ANSWER (or TIMEOUT) */
    uint32_t max_call_ms;     /* an answered call is hung up after this */
    uint16_t rtp_port_min, rtp_port_max;
};

enum sip_outcome {
    SIP_OUTCOME_ANSWERED,         /* answered (whoever hung up, key or not) */
    SIP_OUTCOME_BUSY,             /* 486, 600, 603 */
    SIP_OUTCOME_NO_ANSWER,        /* 408, 480, or our ring timeout after a 1xx */
    SIP_OUTCOME_FAILED_TEMPORARY, /* 5xx, transport errors, no usable answer */
    SIP_OUTCOME_FAILED_PERMANENT, /* other 4xx (404, 484 ...), no common codec */
    SIP_OUTCOME_TIMEOUT,          /* no response at all within the ring timeout */
};

/* The end of one call, handed to on_done. */
struct sip_call_result {
    enum sip_outcome outcome;
    uint16_t status;   /* the final SIP status, 0 when there was none */
    int answered;      /* 1 when the call was established */
    char detail[160];  /* "486 Busy Here", "ring timeout after 30 s", ... */
    char call_id[128]; /* the SIP Call-ID */
};

/* One call to place.  Every pointer is read during sip_call_place() only. */
struct sip_call_request {
    const char *to_uri;    /* sip:bob@example.com or sip:+4930123@trunk.example */
    const char *prompt;    /* spoken once the call is answered */
    unsigned prompt_plays; /* 1 .. 5: times the prompt is spoken with no key
                            * pressed before the agent hangs up (answered) */
    /* A key ('0'-'9', '*', '#', 'A'-'D') pressed during the call.  The agent
     * stops speaking; it is up to the caller to answer with sip_call_say()
     * (when it does not within 15 s, the agent hangs up).  NULL = ignored. */
    void (*on_key)(void *arg, uint64_t call, char key);
    /* The call ended: called exactly once per call placed with success,
     * after which the number is unknown to the agent.  result is borrowed
     * for the duration of the callback. */
    void (*on_done)(void *arg, uint64_t call, const struct sip_call_result *result);
    void *arg; /* must stay valid until on_done */
};

/*
 * Start the agent thread: bind the SIP transport (UDP, and TCP on the same
 * port when free) and wait until it is ready.  Returns 0 and *out, or
 * OB_EINVAL (bad config), OB_EIO (cannot bind), OB_ENOMEM with err filled.
 * Never logs the password.
 */
int sip_agent_start(const struct sip_agent_config *cfg, struct sip_agent **out,
                    struct ob_error *err);

/*
 * End every call in progress (each gets its on_done: FAILED_TEMPORARY
 * "not answered before shutdown" when not yet answered, ANSWERED
 * otherwise), send their BYE/CANCEL and stop the thread.  The agent stays
 * allocated: from now on sip_call_place() and sip_call_say() fail with
 * OB_EUNAVAILABLE, so threads that still hold the pointer are safe until
 * sip_agent_free().  Accepts NULL; a second call does nothing.  Not from
 * the SIP thread (that is, not from a callback).
 */
void sip_agent_stop(struct sip_agent *agent);

/* Stop (when not yet stopped) and free.  Accepts NULL.  Nobody may use
 * the pointer afterwards. */
void sip_agent_free(struct sip_agent *agent);

/* "HOST:PORT" the agent's SIP transport is bound to (for logs and tests). */
const char *sip_agent_address(const struct sip_agent *agent);

/*
 * Place a call: synthesizes the prompt (on this thread), then the SIP
 * thread sends the INVITE.  Blocks only until the INVITE is sent (no
 * network wait).  Returns 0, *call and the Call-ID (call_id, cap bytes;
 * truncated if short), after which exactly one on_done follows (possibly
 * before this returns: callbacks run on the SIP thread, so *call and
 * call_id must not live in memory that on_done frees).  On failure
 * (OB_EINVAL: bad URI or prompt; OB_EUNAVAILABLE: stopping; OB_ENOMEM;
 * OB_EINTERNAL) no callback is ever called.  Not from the SIP thread.
 */
int sip_call_place(struct sip_agent *agent, const struct sip_call_request *req, uint64_t *call,
                   char *call_id, size_t cap, struct ob_error *err);

/*
 * Speak text on the call (replacing whatever it was saying), then hang up
 * when hang_up_after is 1, or wait up to 15 s for the next key.  Any thread
 * except the SIP thread (synthesis blocks).  Returns 0 when handed over
 * (a call that ended meanwhile drops it silently), OB_EINVAL (text),
 * OB_ENOMEM, OB_EUNAVAILABLE (stopping).
 */
int sip_call_say(struct sip_agent *agent, uint64_t call, const char *text, int hang_up_after);

/* ---- pure helpers (sip_text.c; unit-tested and fuzzed) ---- */

/* The outcome of a final response status >= 300 to an INVITE. */
enum sip_outcome sip_status_outcome(uint16_t status);

/* "answered", "busy", "no-answer", "failed-temporary", "failed-permanent", "timeout". */
const char *sip_outcome_name(enum sip_outcome outcome);

/*
 * The key of a SIP INFO body.  subtype is the Content-Type's subtype
 * ("dtmf-relay": lines "Signal=5" / "Duration=160", names case-insensitive,
 * spaces around '=' allowed; "dtmf": the key alone, or an RFC 4733 event
 * number 0-15).  Keys: 0-9 * # A-D (10 = '*', 11 = '#', 12-15 = A-D).
 * Returns 0 and *key, or OB_EINVAL (no signal, a bad one, a body over 1 KiB
 * or with NUL bytes, another subtype).
 */
int sip_dtmf_info_parse(const char *subtype, const char *body, size_t len, char *key);

/*
 * Where to call an address: a sip:/sips: URI is called as is; an E.164
 * number (+ and 8 to 15 digits) through trunk (sip:HOST[:PORT][;params]) as
 * sip:+NUMBER@HOST[:PORT][;params].  Returns 0 and out, OB_EINVAL (not a
 * SIP URI nor a number; a number and no trunk; characters that do not
 * belong in a URI) or OB_ETOOLARGE (cap too small).
 */
int sip_target_uri(const char *address, const char *trunk, char *out, size_t cap);

#endif
