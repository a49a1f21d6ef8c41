/*
 * tts.h - text to speech for phone calls: flite's cmu_us_kal voice,
 * resampled to 8 kHz and encoded as G.711 mu-law (PCMU), ready to be cut
 * into 20 ms RTP packets of 160 bytes.
 *
 * flite is not thread-safe: every synthesis runs under one process-wide
 * mutex.  Results are kept in a small cache keyed by the exact text (the
 * same menu is spoken on every call), so a repeated prompt costs a lookup.
 *
 * Threads: every function may be called from any thread.  Synthesis takes
 * tens to hundreds of milliseconds: call it off event loops (the SIP agent
 * synthesizes on the caller's thread, never on its re_main thread).
 */
#ifndef OPSBELL_TTS_TTS_H
#define OPSBELL_TTS_TTS_H

#include <stddef.h>
#include <stdint.h>

struct ob_error;

#define TTS_SAMPLE_RATE 8000
#define TTS_MAX_TEXT    2000 /* bytes of text one call may speak at once */

/* One synthesized utterance: len mu-law bytes at 8 kHz (len / 8 ms long).
 * Reference counted: the cache holds one reference, each tts_say() caller
 * another.  Immutable once returned, so it may be read on any thread. */
struct tts_audio {
    uint8_t *ulaw;
    size_t len;
    unsigned refs; /* guarded by the tts mutex */
};

/*
 * The audio for text (1 .. TTS_MAX_TEXT bytes; control characters are read
 * as spaces).  Returns 0 and *out (one reference: tts_audio_unref()), or
 * OB_EINVAL (empty or too long text), OB_ENOMEM, OB_EINTERNAL (flite
 * produced nothing).
 */
int tts_say(const char *text, struct tts_audio **out, struct ob_error *err);

/* Take one more reference (any thread). Returns audio. */
struct tts_audio *tts_audio_ref(struct tts_audio *audio);

/* Drop one reference. Accepts NULL. */
void tts_audio_unref(struct tts_audio *audio);

/* Empty the cache (audio still referenced by callers stays valid). For
 * tests and shutdown; any thread. */
void tts_cache_clear(void);

/* G.711 mu-law of one 16-bit linear sample (ITU-T G.711, with the bias of
 * 0x84 and the clip at 32635; the result is bit-inverted as sent). */
uint8_t tts_ulaw_encode(int16_t sample);

/* The linear value (approximately the original) of one mu-law byte. */
int16_t tts_ulaw_decode(uint8_t ulaw);

#endif
