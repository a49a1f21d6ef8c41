/*
 * tts.c - flite (cmu_us_kal) to 8 kHz G.711 mu-law, one synthesis at a
 * time, with a small cache of recent texts.
 */
#include "tts/tts.h"

#include "util/error.h"

#include <flite/flite.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Declared in no installed header (flite's lang/ and voice headers are not
 * shipped by flite1-dev). */
cst_voice *register_cmu_us_kal(const char *voxdir);

#define TTS_CACHE_ENTRIES 32

struct tts_entry {
    char *text;
    struct tts_audio *audio;
    uint64_t used; /* tts_clock at the last hit: the smallest is evicted */
};

static pthread_mutex_t tts_lock = PTHREAD_MUTEX_INITIALIZER;
static cst_voice *tts_voice;
static struct tts_entry tts_cache[TTS_CACHE_ENTRIES];
static uint64_t tts_clock;

uint8_t tts_ulaw_encode(int16_t sample)
{
    static const int16_t clip = 32635;
    int pcm = sample;
    int sign = 0, exponent = 7, mantissa;

    if (pcm < 0) {
        pcm = -pcm;
        sign = 0x80;
    }
    if (pcm > clip)
        pcm = clip;
    pcm += 0x84;
    for (int mask = 0x4000; (pcm & mask) == 0 && exponent > 0; mask >>= 1)
        exponent--;
    mantissa = (pcm >> (exponent + 3)) & 0x0f;
    return (uint8_t) ~(sign | (exponent << 4) | mantissa);
}

int16_t tts_ulaw_decode(uint8_t ulaw)
{
    int u = (uint8_t)~ulaw;
    int t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);

    return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

static void tts_audio_free(struct tts_audio *a)
{
    if (a == NULL)
        return;
    free(a->ulaw);
    free(a);
}

/* Under tts_lock. */
static void tts_unref_locked(struct tts_audio *a)
{
    if (a != NULL && --a->refs == 0)
        tts_audio_free(a);
}

struct tts_audio *tts_audio_ref(struct tts_audio *audio)
{
    pthread_mutex_lock(&tts_lock);
    audio->refs++;
    pthread_mutex_unlock(&tts_lock);
    return audio;
}

void tts_audio_unref(struct tts_audio *audio)
{
    if (audio == NULL)
        return;
    pthread_mutex_lock(&tts_lock);
    tts_unref_locked(audio);
    pthread_mutex_unlock(&tts_lock);
}

void tts_cache_clear(void)
{
    pthread_mutex_lock(&tts_lock);
    for (size_t i = 0; i < TTS_CACHE_ENTRIES; i++) {
        free(tts_cache[i].text);
        tts_unref_locked(tts_cache[i].audio);
        tts_cache[i] = (struct tts_entry){0};
    }
    pthread_mutex_unlock(&tts_lock);
}

/* Under tts_lock: flite into a new tts_audio (refs 0). */
static int tts_synthesize(const char *text, struct tts_audio **out, struct ob_error *err)
{
    struct tts_audio *a;
    cst_wave *w;
    int rc = 0;

    if (tts_voice == NULL) {
        flite_init();
        tts_voice = register_cmu_us_kal(NULL);
        if (tts_voice == NULL)
            return ob_fail(err, OB_EINTERNAL, "flite voice cmu_us_kal cannot be loaded");
    }
    w = flite_text_to_wave(text, tts_voice);
    if (w == NULL || w->num_samples <= 0 || w->num_channels < 1) {
        rc = ob_fail(err, OB_EINTERNAL, "flite produced no audio");
        goto out;
    }
    if (w->sample_rate != TTS_SAMPLE_RATE)
        cst_wave_resample(w, TTS_SAMPLE_RATE);
    a = calloc(1, sizeof(*a));
    if (a == NULL || (a->ulaw = malloc((size_t)w->num_samples)) == NULL) {
        free(a);
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    a->len = (size_t)w->num_samples;
    for (size_t i = 0; i < a->len; i++)
        a->ulaw[i] = tts_ulaw_encode(w->samples[i * (size_t)w->num_channels]);
    *out = a;
out:
    if (w != NULL)
        delete_wave(w);
    return rc;
}

int tts_say(const char *text, struct tts_audio **out, struct ob_error *err)
{
    struct tts_entry *slot = NULL;
    struct tts_audio *a = NULL;
    size_t len = text != NULL ? strlen(text) : 0;
    char *clean;
    int rc = 0;

    *out = NULL;
    if (len == 0 || len > TTS_MAX_TEXT)
        return ob_fail(err, OB_EINVAL, "text to speak must be 1 to %d bytes", TTS_MAX_TEXT);
    clean = strdup(text);
    if (clean == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (char *p = clean; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';

    pthread_mutex_lock(&tts_lock);
    tts_clock++;
    for (size_t i = 0; i < TTS_CACHE_ENTRIES; i++) {
        if (tts_cache[i].text != NULL && strcmp(tts_cache[i].text, clean) == 0) {
            tts_cache[i].used = tts_clock;
            a = tts_cache[i].audio;
            a->refs++;
            goto out;
        }
        if (slot == NULL || tts_cache[i].text == NULL ||
            (slot->text != NULL && tts_cache[i].used < slot->used))
            slot = &tts_cache[i];
    }
    rc = tts_synthesize(clean, &a, err);
    if (rc != 0)
        goto out;
    a->refs = 2; /* the cache's and the caller's */
    free(slot->text);
    tts_unref_locked(slot->audio);
    slot->text = clean;
    slot->audio = a;
    slot->used = tts_clock;
    clean = NULL;
out:
    pthread_mutex_unlock(&tts_lock);
    free(clean);
    if (rc == 0)
        *out = a;
    return rc;
}
