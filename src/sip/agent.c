/*
 * agent.c - the SIP user agent on its own re_main thread (see sip.h).
 *
 * A call: INVITE with an SDP offer (PCMU/8000 and telephone-event/8000),
 * through the outbound proxy when configured, digest credentials when the
 * far end asks.  Our ring timer runs from the INVITE (libre has none).
 * Once answered: the prompt goes out as 160-byte mu-law packets every
 * 20 ms (paced against the clock, silence in between), keys come in as
 * RFC 4733 events on the RTP socket or as SIP INFO; a key stops the speech
 * and is handed to on_key; a max-duration timer ends any call.
 *
 * libre calls closeh only when the far end (or the transaction) ends a
 * session; when we end one ourselves (ring timeout, hang-up, shutdown) with
 * mem_deref(sess), closeh is not called, so call_end() records the outcome
 * itself in both paths and on_done runs exactly once.
 *
 * Only this file includes re.h (never with jansson.h).
 */
#include <re.h>

#include "sip/sip.h"

#include "tts/tts.h"
#include "util/error.h"
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define SIP_PTIME_MS      20
#define SIP_FRAME_BYTES   160 /* 20 ms at 8 kHz, one byte per sample */
#define SIP_PT_PCMU       0
#define SIP_PT_TELEV      101
#define SIP_KEY_WAIT_MS   15000 /* after a key, or after speaking: wait this long */
#define SIP_PROMPT_GAP_MS 1000  /* silence between two plays of the prompt */
#define SIP_HANGUP_TAIL   400   /* ms of silence after the last words */
#define SIP_STOP_GRACE_MS 1500  /* for BYE/CANCEL to go out at shutdown */
#define SIP_QUEUE_MAX     8
#define SIP_MAX_FDS       65536 /* descriptors the SIP thread may poll, at most */

enum mq_id { MQ_PLACE = 1, MQ_SAY, MQ_STOP };

enum call_state { CALL_INVITING, CALL_RINGING, CALL_ESTABLISHED, CALL_DONE };

struct play {
    struct tts_audio *audio; /* one reference */
    uint32_t gap_ms;         /* silence before the audio */
    int hang_up_after;
};

struct call {
    struct le le;
    struct sip_agent *agent;
    uint64_t id;
    enum call_state state;
    char call_id[128];
    char to_uri[512];
    struct sipsess *sess;
    struct sdp_session *sdp;
    struct sdp_media *media;
    struct rtp_sock *rtp;
    struct telev *telev;
    struct sa raddr; /* remote RTP address, once the answer is known */
    int telev_pt;    /* the far end's telephone-event payload type, -1 = none */
    int have_pcmu;
    int sdp_malformed; /* an answer failed to parse */
    int telev_pressed; /* an RFC 4733 event whose start we reported */
    struct tmr ring_tmr, max_tmr, pace_tmr, wait_tmr;
    uint64_t pace_start;
    uint64_t frames_sent;
    uint32_t ts;
    /* what to say, in order; play[0] is playing from offset */
    struct play queue[SIP_QUEUE_MAX];
    unsigned queued;
    size_t offset;
    uint32_t gap_left_ms;
    int hang_up_pending; /* the last words were said: end after the tail */
    unsigned tail_left_ms;
    struct sip_call_request cb; /* on_key, on_done, arg (strings unused) */
};

struct place_msg {
    const struct sip_call_request *req;
    struct tts_audio *prompt; /* one reference, handed to the call */
    /* out, under agent->lock */
    int rc;
    char msg[256];
    uint64_t call;
    char call_id[128];
    int done;
};

struct say_msg {
    uint64_t call;
    struct tts_audio *audio;
    int hang_up_after;
};

struct sip_agent {
    /* configuration (owned copies) */
    char *listen_host;
    uint16_t listen_port;
    char *from_uri;
    char *outbound_proxy; /* with ;lr */
    char *username;
    char *cuser; /* Contact user: from_uri's user, or "opsbell" */
    char *password;
    size_t password_len;
    uint32_t ring_timeout_ms, max_call_ms;
    uint16_t rtp_min, rtp_max;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready;    /* under lock: 1 running, -1 failed to start */
    int stopping; /* under lock: no new requests accepted */
    char address[80];
    struct ob_error start_err;

    /* SIP thread only */
    struct mqueue *mq;
    struct dnsc *dnsc;
    struct sip *sip;
    struct sipsess_sock *sock;
    struct sip_lsnr *lsnr;
    struct sa laddr;
    struct list calls;
    uint64_t next_id;
    struct tmr stop_tmr;
};

/* ---- calls: ending ---- */

static void call_queue_clear(struct call *c)
{
    for (unsigned i = 0; i < c->queued; i++)
        tts_audio_unref(c->queue[i].audio);
    c->queued = 0;
    c->offset = 0;
    c->gap_left_ms = 0;
}

static void call_free(struct call *c)
{
    tmr_cancel(&c->ring_tmr);
    tmr_cancel(&c->max_tmr);
    tmr_cancel(&c->pace_tmr);
    tmr_cancel(&c->wait_tmr);
    list_unlink(&c->le);
    /* Dropping our reference sends BYE (established) or CANCEL (early);
     * libre keeps the session until that transaction ends. */
    c->sess = mem_deref(c->sess);
    c->rtp = mem_deref(c->rtp);
    c->telev = mem_deref(c->telev);
    c->media = NULL;
    c->sdp = mem_deref(c->sdp);
    call_queue_clear(c);
    free(c);
}

/* Record the outcome, tell on_done, free.  c is gone afterwards. */
static void call_end(struct call *c, enum sip_outcome outcome, uint16_t status, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
static void call_end(struct call *c, enum sip_outcome outcome, uint16_t status, const char *fmt,
                     ...)
{
    struct sip_call_result r;
    va_list ap;

    if (c->state == CALL_DONE)
        return;
    memset(&r, 0, sizeof(r));
    r.outcome = outcome;
    r.status = status;
    r.answered = c->state == CALL_ESTABLISHED;
    va_start(ap, fmt);
    vsnprintf(r.detail, sizeof(r.detail), fmt, ap);
    va_end(ap);
    snprintf(r.call_id, sizeof(r.call_id), "%s", c->call_id);
    c->state = CALL_DONE;
    log_info("sip", "call ended", "call_id", c->call_id, "outcome", sip_outcome_name(outcome),
             "detail", r.detail);
    if (c->cb.on_done != NULL)
        c->cb.on_done(c->cb.arg, c->id, &r);
    call_free(c);
}

static struct call *call_find(struct sip_agent *a, uint64_t id)
{
    for (struct le *le = list_head(&a->calls); le != NULL; le = le->next) {
        struct call *c = le->data;
        if (c->id == id)
            return c;
    }
    return NULL;
}

/* ---- calls: media out ---- */

static void call_key_wait_expired(void *arg)
{
    struct call *c = arg;

    call_end(c, SIP_OUTCOME_ANSWERED, 200, "answered; no further key, hung up");
}

/* Pop play[0]; start the wait or the hang-up when nothing follows. */
static void call_play_next(struct call *c)
{
    struct play done = c->queue[0];

    memmove(&c->queue[0], &c->queue[1], (c->queued - 1) * sizeof(c->queue[0]));
    c->queued--;
    c->offset = 0;
    c->gap_left_ms = c->queued > 0 ? c->queue[0].gap_ms : 0;
    tts_audio_unref(done.audio);
    if (done.hang_up_after) {
        call_queue_clear(c);
        c->hang_up_pending = 1;
        c->tail_left_ms = SIP_HANGUP_TAIL;
    } else if (c->queued == 0) {
        tmr_start(&c->wait_tmr, SIP_KEY_WAIT_MS, call_key_wait_expired, c);
    }
}

/* The next 20 ms of what the call says (silence when nothing). */
static void call_frame(struct call *c, uint8_t *frame)
{
    memset(frame, 0xff, SIP_FRAME_BYTES); /* mu-law silence */
    if (c->queued == 0)
        return;
    if (c->gap_left_ms > 0) {
        c->gap_left_ms = c->gap_left_ms > SIP_PTIME_MS ? c->gap_left_ms - SIP_PTIME_MS : 0;
        return;
    }
    const struct tts_audio *au = c->queue[0].audio;
    size_t n = au->len - c->offset < SIP_FRAME_BYTES ? au->len - c->offset : SIP_FRAME_BYTES;

    memcpy(frame, au->ulaw + c->offset, n);
    c->offset += n;
    if (c->offset >= au->len)
        call_play_next(c);
}

static void call_pace(void *arg)
{
    struct call *c = arg;
    uint8_t frame[SIP_FRAME_BYTES];
    uint64_t now = tmr_jiffies(), due;

    /* Send every frame that is due (after a stall, catch up a little but
     * never burst more than 5 frames). */
    for (int burst = 0; burst < 5; burst++) {
        due = c->pace_start + c->frames_sent * SIP_PTIME_MS;
        if (due > now)
            break;
        call_frame(c, frame);
        if (sa_isset(&c->raddr, SA_ALL) && c->have_pcmu) {
            struct mbuf *mb = mbuf_alloc(RTP_HEADER_SIZE + SIP_FRAME_BYTES);
            if (mb != NULL) {
                mb->pos = RTP_HEADER_SIZE;
                (void)mbuf_write_mem(mb, frame, SIP_FRAME_BYTES);
                mb->pos = RTP_HEADER_SIZE;
                (void)rtp_send(c->rtp, &c->raddr, false, c->frames_sent == 0, SIP_PT_PCMU, c->ts,
                               mb);
                mem_deref(mb);
            }
        }
        c->ts += SIP_FRAME_BYTES;
        c->frames_sent++;
        if (c->hang_up_pending) {
            if (c->tail_left_ms <= SIP_PTIME_MS) {
                call_end(c, SIP_OUTCOME_ANSWERED, 200, "answered; hung up after the last words");
                return;
            }
            c->tail_left_ms -= SIP_PTIME_MS;
        }
    }
    if (c->frames_sent * SIP_PTIME_MS + c->pace_start + 5 * SIP_PTIME_MS < now)
        c->pace_start = now - c->frames_sent * SIP_PTIME_MS; /* give up the backlog */
    due = c->pace_start + c->frames_sent * SIP_PTIME_MS;
    tmr_start(&c->pace_tmr, due > now ? due - now : 1, call_pace, c);
}

/* ---- calls: keys in ---- */

static void call_key(struct call *c, char key, const char *how)
{
    char k[2] = {key, '\0'};

    if (c->state != CALL_ESTABLISHED || c->hang_up_pending)
        return;
    log_info("sip", "key pressed", "call_id", c->call_id, "key", k, "via", how);
    call_queue_clear(c); /* barge-in: stop talking */
    tmr_start(&c->wait_tmr, SIP_KEY_WAIT_MS, call_key_wait_expired, c);
    if (c->cb.on_key != NULL)
        c->cb.on_key(c->cb.arg, c->id, key);
}

static void call_rtp_recv(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb,
                          void *arg)
{
    struct call *c = arg;
    int event = 0, digit;
    bool end = false;

    if (c->state != CALL_ESTABLISHED || c->telev_pt < 0 || hdr->pt != (uint8_t)c->telev_pt)
        return; /* audio from the phone: not listened to */
    if (telev_recv(c->telev, mb, &event, &end) != 0)
        return;
    if (end && c->telev_pressed) {
        c->telev_pressed = 0;
        return;
    }
    c->telev_pressed = !end;
    digit = telev_code2digit(event);
    if (digit > 0)
        call_key(c, (char)digit, "rfc4733");
}

static void call_info(struct sip *sip, const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    char subtype[32];
    char key;

    if (msg->ctyp.type.l == 0 || pl_strcasecmp(&msg->ctyp.type, "application") != 0 ||
        msg->ctyp.subtype.l >= sizeof(subtype)) {
        (void)sip_reply(sip, msg, 415, "Unsupported Media Type");
        return;
    }
    pl_strcpy(&msg->ctyp.subtype, subtype, sizeof(subtype));
    if (strcasecmp(subtype, "dtmf") != 0 && strcasecmp(subtype, "dtmf-relay") != 0) {
        (void)sip_reply(sip, msg, 415, "Unsupported Media Type");
        return;
    }
    if (sip_dtmf_info_parse(subtype, (const char *)mbuf_buf(msg->mb), mbuf_get_left(msg->mb),
                            &key) != 0) {
        log_warn("sip", "ignored a SIP INFO without a valid key", "call_id", c->call_id,
                 "content_type", subtype);
        (void)sip_reply(sip, msg, 400, "Bad DTMF");
        return;
    }
    (void)sip_reply(sip, msg, 200, "OK");
    call_key(c, key, "sip-info");
}

/* ---- calls: signalling ---- */

static int call_auth(char **username, char **password, const char *realm, void *arg)
{
    struct call *c = arg;
    struct sip_agent *a = c->agent;
    int err;

    if (a->password == NULL)
        return EAUTH; /* no credentials: the 401/407 ends the call */
    err = str_dup(username, a->username);
    if (err == 0) {
        *password = mem_zalloc(a->password_len + 1, NULL);
        if (*password == NULL)
            return ENOMEM;
        memcpy(*password, a->password, a->password_len);
    }
    return err;
}

/* A re-INVITE (hold, codec change): take its offer, answer with ours. */
static int call_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    int err = 0;

    if (mbuf_get_left(msg->mb) > 0) {
        err = sdp_decode(c->sdp, msg->mb, true);
        if (err != 0)
            return err;
        if (sdp_media_rformat(c->media, "PCMU") != NULL)
            sa_cpy(&c->raddr, sdp_media_raddr(c->media));
    }
    return sdp_encode(descp, c->sdp, err == 0 && mbuf_get_left(msg->mb) == 0);
}

/* The SDP answer (in a 18x or the 200): where to send, which payload types. */
static int call_answer(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    const struct sdp_format *pcmu, *tel;
    int err;

    if (mbuf_get_left(msg->mb) == 0)
        return 0; /* checked when established */
    err = sdp_decode(c->sdp, msg->mb, false);
    if (err != 0) {
        /* Not an error for libre (it would end the call as a transport
         * failure): the call goes on without audio and ends as "no usable
         * SDP", a permanent failure, once answered. */
        log_warn("sip", "malformed SDP answer", "call_id", c->call_id);
        c->sdp_malformed = 1;
        c->have_pcmu = 0;
        return 0;
    }
    pcmu = sdp_media_rformat(c->media, "PCMU");
    tel = sdp_media_rformat(c->media, telev_rtpfmt);
    c->have_pcmu = pcmu != NULL && sdp_media_rport(c->media) != 0;
    c->telev_pt = tel != NULL ? tel->pt : -1;
    if (c->have_pcmu) {
        sa_cpy(&c->raddr, sdp_media_raddr(c->media));
        if (!sa_isset(&c->raddr, SA_ALL))
            c->have_pcmu = 0;
    }
    return 0;
}

static void call_progress(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;

    /* Any 1xx the session sees means the far end is alive and alerting. */
    if (c->state == CALL_INVITING && msg->scode > 100)
        c->state = CALL_RINGING;
}

static void call_max_expired(void *arg)
{
    struct call *c = arg;

    call_end(c, SIP_OUTCOME_ANSWERED, 200, "answered; hung up at the maximum call duration");
}

static void call_no_media(void *arg)
{
    struct call *c = arg;

    call_end(c, SIP_OUTCOME_FAILED_PERMANENT, 200, "200 answered %s",
             c->sdp_malformed ? "with a malformed SDP answer"
                              : "without a usable SDP answer (no PCMU/8000 audio)");
}

static void call_established(const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;

    tmr_cancel(&c->ring_tmr);
    c->state = CALL_ESTABLISHED;
    if (!c->have_pcmu) {
        /* Not from inside libre's response handler: it still uses sess. */
        c->hang_up_pending = 1;
        tmr_start(&c->wait_tmr, 0, call_no_media, c);
        return;
    }
    log_info("sip", "call answered", "call_id", c->call_id);
    tmr_start(&c->max_tmr, c->agent->max_call_ms, call_max_expired, c);
    c->pace_start = tmr_jiffies();
    tmr_start(&c->pace_tmr, 1, call_pace, c);
}

static void call_closed(int err, const struct sip_msg *msg, void *arg)
{
    struct call *c = arg;
    char reason[80] = "";

    if (msg != NULL && msg->reason.l > 0)
        pl_strcpy(&msg->reason, reason, sizeof(reason));
    for (char *p = reason; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    if (c->state == CALL_ESTABLISHED) {
        /* libre reports the far end's BYE as ECONNRESET. */
        if (err != 0 && err != ECONNRESET)
            call_end(c, SIP_OUTCOME_ANSWERED, 200, "answered; the call broke (%s)", strerror(err));
        else
            call_end(c, SIP_OUTCOME_ANSWERED, 200, "answered; the far end hung up");
        return;
    }
    if (err == ETIMEDOUT)
        call_end(c, SIP_OUTCOME_TIMEOUT, 0, "no response from the far end");
    else if (err != 0)
        call_end(c, SIP_OUTCOME_FAILED_TEMPORARY, 0, "call failed: %s", strerror(err));
    else if (msg != NULL && msg->scode >= 300)
        call_end(c, sip_status_outcome(msg->scode), msg->scode, "%u %s", msg->scode, reason);
    else
        call_end(c, SIP_OUTCOME_FAILED_TEMPORARY, msg != NULL ? msg->scode : 0,
                 "the far end ended the call before answering");
}

static void call_ring_expired(void *arg)
{
    struct call *c = arg;
    uint32_t s = c->agent->ring_timeout_ms / 1000;

    if (c->state == CALL_INVITING)
        call_end(c, SIP_OUTCOME_TIMEOUT, 0, "no response from the far end within %u s", s);
    else
        call_end(c, SIP_OUTCOME_NO_ANSWER, 0, "ring timeout after %u s", s);
}

static int call_sdp_offer(struct sip_agent *a, struct call *c, struct mbuf **desc)
{
    int err;

    err = rtp_listen(&c->rtp, IPPROTO_UDP, &a->laddr, a->rtp_min, a->rtp_max, false, call_rtp_recv,
                     NULL, c);
    if (err == 0)
        err = telev_alloc(&c->telev, TELEV_PTIME);
    if (err == 0)
        err = sdp_session_alloc(&c->sdp, &a->laddr);
    if (err == 0)
        err = sdp_media_add(&c->media, c->sdp, "audio", sa_port(rtp_local(c->rtp)), "RTP/AVP");
    if (err == 0)
        err = sdp_format_add(NULL, c->media, false, "0", "PCMU", 8000, 1, NULL, NULL, NULL, false,
                             NULL);
    if (err == 0)
        err = sdp_format_add(NULL, c->media, false, "101", telev_rtpfmt, 8000, 1, NULL, NULL, NULL,
                             false, "0-15");
    if (err == 0)
        err = sdp_encode(desc, c->sdp, true);
    return err;
}

/* On the SIP thread: a new call from a place request. */
static void agent_place(struct sip_agent *a, struct place_msg *m)
{
    const struct sip_call_request *req = m->req;
    const char *routev[1];
    struct mbuf *desc = NULL;
    struct call *c;
    int err;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        m->rc = OB_ENOMEM;
        snprintf(m->msg, sizeof(m->msg), "out of memory");
        return;
    }
    c->agent = a;
    c->id = ++a->next_id;
    c->telev_pt = -1;
    c->cb = *req;
    c->cb.to_uri = c->cb.prompt = NULL;
    snprintf(c->to_uri, sizeof(c->to_uri), "%s", req->to_uri);
    tmr_init(&c->ring_tmr);
    tmr_init(&c->max_tmr);
    tmr_init(&c->pace_tmr);
    tmr_init(&c->wait_tmr);
    for (unsigned i = 0; i < req->prompt_plays && i < SIP_QUEUE_MAX; i++) {
        c->queue[i].audio = tts_audio_ref(m->prompt);
        c->queue[i].gap_ms = i == 0 ? 300 : SIP_PROMPT_GAP_MS;
        c->queue[i].hang_up_after = i + 1 == req->prompt_plays;
        c->queued++;
    }
    c->gap_left_ms = c->queued > 0 ? c->queue[0].gap_ms : 0;
    list_append(&a->calls, &c->le, c);

    err = call_sdp_offer(a, c, &desc);
    if (err != 0) {
        m->rc = OB_EINTERNAL;
        snprintf(m->msg, sizeof(m->msg), "cannot set up the media: %s", strerror(err));
        goto fail;
    }
    routev[0] = a->outbound_proxy;
    err =
        sipsess_connect(&c->sess, a->sock, c->to_uri, "opsbell", a->from_uri, a->cuser, routev,
                        a->outbound_proxy != NULL ? 1 : 0, "application/sdp", desc, call_auth, c,
                        false, call_offer, call_answer, call_progress, call_established, call_info,
                        NULL, call_closed, c, "Allow: INVITE, ACK, BYE, CANCEL, INFO, OPTIONS\r\n");
    if (err != 0) {
        m->rc = err == EINVAL ? OB_EINVAL : OB_EINTERNAL;
        snprintf(m->msg, sizeof(m->msg), "cannot call %.120s: %s", c->to_uri, strerror(err));
        goto fail;
    }
    snprintf(c->call_id, sizeof(c->call_id), "%s", sip_dialog_callid(sipsess_dialog(c->sess)));
    tmr_start(&c->ring_tmr, a->ring_timeout_ms, call_ring_expired, c);
    m->rc = 0;
    m->call = c->id;
    snprintf(m->call_id, sizeof(m->call_id), "%s", c->call_id);
    log_info("sip", "calling", "call_id", c->call_id, "to", c->to_uri);
    mem_deref(desc);
    return;
fail:
    mem_deref(desc);
    c->state = CALL_DONE; /* no on_done for a call that was never placed */
    call_free(c);
}

static void agent_say(struct sip_agent *a, struct say_msg *m)
{
    struct call *c = call_find(a, m->call);

    if (c == NULL || c->state != CALL_ESTABLISHED || c->hang_up_pending) {
        tts_audio_unref(m->audio);
        return;
    }
    tmr_cancel(&c->wait_tmr);
    call_queue_clear(c);
    c->queue[0] = (struct play){m->audio, 200, m->hang_up_after};
    c->queued = 1;
    c->gap_left_ms = 200;
}

static void agent_stop_expired(void *arg)
{
    (void)arg;
    re_cancel();
}

static void agent_sip_exit(void *arg)
{
    (void)arg;
    re_cancel();
}

static void agent_stop_calls(struct sip_agent *a)
{
    struct le *le;

    while ((le = list_head(&a->calls)) != NULL) {
        struct call *c = le->data;
        if (c->state == CALL_ESTABLISHED)
            call_end(c, SIP_OUTCOME_ANSWERED, 200, "answered; hung up at shutdown");
        else
            call_end(c, SIP_OUTCOME_FAILED_TEMPORARY, 0, "not answered before shutdown");
    }
}

static void agent_mq(int id, void *data, void *arg)
{
    struct sip_agent *a = arg;

    switch (id) {
    case MQ_PLACE: {
        struct place_msg *m = data;
        agent_place(a, m);
        pthread_mutex_lock(&a->lock);
        m->done = 1;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        break;
    }
    case MQ_SAY:
        agent_say(a, data);
        free(data);
        break;
    case MQ_STOP:
        /* BYE/CANCEL go out now; sip_close() waits for their transactions
         * (or the grace timer) before re_main returns. */
        agent_stop_calls(a);
        sip_close(a->sip, false);
        tmr_start(&a->stop_tmr, SIP_STOP_GRACE_MS, agent_stop_expired, a);
        break;
    default:
        break;
    }
}

/* Requests outside a dialog: OPTIONS (trunk keep-alives) get 200; an
 * INVITE to us is declined (we only call out). */
static bool agent_request(const struct sip_msg *msg, void *arg)
{
    struct sip_agent *a = arg;

    if (pl_strcmp(&msg->met, "OPTIONS") == 0) {
        (void)sip_reply(a->sip, msg, 200, "OK");
        return true;
    }
    return false;
}

static void agent_incoming(const struct sip_msg *msg, void *arg)
{
    struct sip_agent *a = arg;

    (void)sip_treply(NULL, a->sip, msg, 603, "Decline");
}

/*
 * libre polls only descriptors below its fd_setsize(), FD_SETSIZE (1024)
 * unless told otherwise, whatever the process may open: once the daemon's
 * other descriptors (HTTP connections, the store) pass 1023, every new RTP
 * socket fails ("cannot set up the media: Too many open files"), and each
 * call holds one.  Take the process's limit instead (bounded: libre keeps
 * a slot per descriptor).  Before the first fd_listen() of this thread.
 */
static void agent_fd_setsize(void)
{
    struct rlimit rl;
    rlim_t n = 1024;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > n)
        n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SIP_MAX_FDS ? SIP_MAX_FDS : rl.rlim_cur;
    if (fd_setsize((int)n) != 0)
        log_warn("sip", "cannot raise the SIP thread's descriptor limit");
}

/* On the SIP thread: everything libre, then signal the starter. */
static int agent_setup(struct sip_agent *a)
{
    struct sa ns[4];
    uint32_t nsn = 4;
    struct sa bind;
    int err;

    agent_fd_setsize();
    err = sa_set_str(&a->laddr, a->listen_host, 0);
    if (err != 0)
        return ob_fail(&a->start_err, OB_EINVAL, "sip listen host '%s' is not an IP address",
                       a->listen_host);
    if (sa_is_any(&a->laddr)) {
        /* 0.0.0.0 is no address to give the far end (Contact, SDP c=):
         * use the address of the default route. */
        err = net_default_source_addr_get(sa_af(&a->laddr), &a->laddr);
        if (err != 0)
            return ob_fail(&a->start_err, OB_EIO, "no default source address for SIP: %s",
                           strerror(err));
    }
    if (dns_srv_get(NULL, 0, ns, &nsn) != 0 || nsn == 0) {
        sa_set_str(&ns[0], "127.0.0.1", 53);
        nsn = 1;
    }
    err = dnsc_alloc(&a->dnsc, NULL, ns, nsn);
    if (err == 0)
        err = sip_alloc(&a->sip, a->dnsc, 32, 32, 32, "opsbell", agent_sip_exit, a);
    if (err != 0)
        return ob_fail(&a->start_err, OB_EINTERNAL, "cannot start SIP: %s", strerror(err));
    bind = a->laddr;
    sa_set_port(&bind, a->listen_port);
    err = sip_transp_add(a->sip, SIP_TRANSP_UDP, &bind);
    if (err != 0)
        return ob_fail(&a->start_err, OB_EIO, "cannot bind SIP to %s:%u (udp): %s", a->listen_host,
                       (unsigned)a->listen_port, strerror(err));
    if (sip_transp_laddr(a->sip, &bind, SIP_TRANSP_UDP, NULL) == 0) {
        (void)sip_transp_add(a->sip, SIP_TRANSP_TCP, &bind); /* best effort */
        re_snprintf(a->address, sizeof(a->address), "%J", &bind);
    }
    err = sipsess_listen(&a->sock, a->sip, 32, agent_incoming, a);
    if (err == 0)
        err = sip_listen(&a->lsnr, a->sip, true, agent_request, a);
    if (err == 0)
        err = mqueue_alloc(&a->mq, agent_mq, a);
    if (err != 0)
        return ob_fail(&a->start_err, OB_EINTERNAL, "cannot start SIP: %s", strerror(err));
    return 0;
}

static void *agent_thread(void *arg)
{
    struct sip_agent *a = arg;
    int rc;

    rc = libre_init();
    if (rc != 0) {
        ob_fail(&a->start_err, OB_EINTERNAL, "libre_init failed: %s", strerror(rc));
        rc = -1;
    } else {
        rc = agent_setup(a);
    }
    tmr_init(&a->stop_tmr);
    pthread_mutex_lock(&a->lock);
    a->ready = rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (rc == 0)
        (void)re_main(NULL);
    agent_stop_calls(a);
    tmr_cancel(&a->stop_tmr);
    a->lsnr = mem_deref(a->lsnr);
    a->sock = mem_deref(a->sock);
    if (a->sip != NULL)
        sip_close(a->sip, true);
    a->sip = mem_deref(a->sip);
    a->dnsc = mem_deref(a->dnsc);
    a->mq = mem_deref(a->mq);
    libre_close();
    return NULL;
}

static char *agent_strdup(const char *s, int *oom)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

static void agent_free(struct sip_agent *a)
{
    if (a == NULL)
        return;
    free(a->listen_host);
    free(a->from_uri);
    free(a->outbound_proxy);
    free(a->username);
    free(a->cuser);
    if (a->password != NULL) {
        explicit_bzero(a->password, a->password_len);
        free(a->password);
    }
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a);
}

/* The user part of a sip: URI, or NULL. */
static char *agent_uri_user(const char *uri, int *oom)
{
    const char *s = strchr(uri, ':'), *at = strchr(uri, '@');
    char *u;

    if (s == NULL || at == NULL || at <= s + 1)
        return NULL;
    u = strndup(s + 1, (size_t)(at - s - 1));
    if (u == NULL)
        *oom = 1;
    return u;
}

int sip_agent_start(const struct sip_agent_config *cfg, struct sip_agent **out,
                    struct ob_error *err)
{
    struct sip_agent *a;
    int oom = 0, rc;

    *out = NULL;
    if (cfg->from_uri == NULL || cfg->listen_host == NULL || cfg->ring_timeout_ms == 0 ||
        cfg->max_call_ms == 0 || cfg->rtp_port_min == 0 || cfg->rtp_port_max <= cfg->rtp_port_min)
        return ob_fail(err, OB_EINVAL, "incomplete SIP agent configuration");
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->listen_host = agent_strdup(cfg->listen_host, &oom);
    a->listen_port = cfg->listen_port;
    a->from_uri = agent_strdup(cfg->from_uri, &oom);
    a->username = cfg->username != NULL ? agent_strdup(cfg->username, &oom)
                                        : agent_uri_user(cfg->from_uri, &oom);
    a->cuser = agent_uri_user(cfg->from_uri, &oom);
    if (a->cuser == NULL && !oom)
        a->cuser = agent_strdup("opsbell", &oom);
    if (cfg->outbound_proxy != NULL) {
        size_t n = strlen(cfg->outbound_proxy) + 4;
        a->outbound_proxy = malloc(n);
        if (a->outbound_proxy == NULL)
            oom = 1;
        else
            snprintf(a->outbound_proxy, n, "%s%s", cfg->outbound_proxy,
                     strstr(cfg->outbound_proxy, ";lr") != NULL ? "" : ";lr");
    }
    if (cfg->password != NULL) {
        a->password = malloc(cfg->password_len + 1);
        if (a->password == NULL) {
            oom = 1;
        } else {
            memcpy(a->password, cfg->password, cfg->password_len);
            a->password[cfg->password_len] = '\0';
            a->password_len = cfg->password_len;
        }
    }
    if (a->password != NULL && a->username == NULL) {
        agent_free(a);
        return ob_fail(err, OB_EINVAL, "sip password without a username (nor a user in from_uri)");
    }
    a->ring_timeout_ms = cfg->ring_timeout_ms;
    a->max_call_ms = cfg->max_call_ms;
    a->rtp_min = cfg->rtp_port_min;
    a->rtp_max = cfg->rtp_port_max;
    list_init(&a->calls);
    if (oom) {
        agent_free(a);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    rc = pthread_create(&a->thread, NULL, agent_thread, a);
    if (rc != 0) {
        agent_free(a);
        return ob_fail(err, OB_EINTERNAL, "cannot start the SIP thread");
    }
    pthread_mutex_lock(&a->lock);
    while (a->ready == 0)
        pthread_cond_wait(&a->cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
    if (a->ready < 0) {
        pthread_join(a->thread, NULL);
        rc = ob_fail(err, a->start_err.code != 0 ? a->start_err.code : OB_EINTERNAL, "%s",
                     a->start_err.msg);
        agent_free(a);
        return rc;
    }
    log_info("sip", "SIP agent listening", "address", a->address);
    *out = a;
    return 0;
}

void sip_agent_stop(struct sip_agent *a)
{
    int was_stopping;

    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    was_stopping = a->stopping;
    a->stopping = 1;
    if (!was_stopping && mqueue_push(a->mq, MQ_STOP, NULL) != 0)
        log_error("sip", "cannot stop the SIP thread cleanly");
    pthread_mutex_unlock(&a->lock);
    if (!was_stopping)
        pthread_join(a->thread, NULL);
}

void sip_agent_free(struct sip_agent *a)
{
    if (a == NULL)
        return;
    sip_agent_stop(a);
    agent_free(a);
}

const char *sip_agent_address(const struct sip_agent *a)
{
    return a->address;
}

int sip_call_place(struct sip_agent *a, const struct sip_call_request *req, uint64_t *call,
                   char *call_id, size_t cap, struct ob_error *err)
{
    struct place_msg m;
    int rc;

    if (req->to_uri == NULL || strlen(req->to_uri) >= 500 || req->prompt_plays < 1 ||
        req->prompt_plays > 5 || req->on_done == NULL)
        return ob_fail(err, OB_EINVAL, "invalid call request");
    memset(&m, 0, sizeof(m));
    m.req = req;
    rc = tts_say(req->prompt, &m.prompt, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&a->lock);
    rc = a->stopping ? OB_EUNAVAILABLE : 0;
    if (rc == 0 && mqueue_push(a->mq, MQ_PLACE, &m) != 0)
        rc = OB_EINTERNAL;
    if (rc != 0) {
        pthread_mutex_unlock(&a->lock);
        tts_audio_unref(m.prompt);
        return ob_fail(err, rc, "the SIP agent is %s",
                       rc == OB_EUNAVAILABLE ? "stopping" : "not reachable");
    }
    while (!m.done)
        pthread_cond_wait(&a->cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
    tts_audio_unref(m.prompt); /* the calls took their own references */
    if (m.rc != 0)
        return ob_fail(err, m.rc, "%s", m.msg);
    *call = m.call;
    snprintf(call_id, cap, "%s", m.call_id);
    return 0;
}

int sip_call_say(struct sip_agent *a, uint64_t call, const char *text, int hang_up_after)
{
    struct say_msg *m;
    struct ob_error err;
    int rc;

    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return OB_ENOMEM;
    m->call = call;
    m->hang_up_after = hang_up_after;
    rc = tts_say(text, &m->audio, &err);
    if (rc != 0) {
        free(m);
        return rc;
    }
    pthread_mutex_lock(&a->lock);
    rc = a->stopping ? OB_EUNAVAILABLE : 0;
    if (rc == 0 && mqueue_push(a->mq, MQ_SAY, m) != 0)
        rc = OB_EINTERNAL;
    pthread_mutex_unlock(&a->lock);
    if (rc != 0) {
        tts_audio_unref(m->audio);
        free(m);
    }
    return rc;
}
