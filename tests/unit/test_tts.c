/*
 * test_tts.c - flite through tts_say(): audio of a plausible length for the
 * text, the cache, refusals; G.711 mu-law of known samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tts/tts.h"
#include "util/error.h"

#include <string.h>

static void test_ulaw_known_samples(void **state)
{
    /* Values of the ITU-T G.711 reference encoder (bit-inverted as sent). */
    assert_int_equal(tts_ulaw_encode(0), 0xff);
    assert_int_equal(tts_ulaw_encode(-1), 0x7f);
    assert_int_equal(tts_ulaw_encode(1), 0xff);
    assert_int_equal(tts_ulaw_encode(32767), 0x80);
    assert_int_equal(tts_ulaw_encode(-32768), 0x00);
    assert_int_equal(tts_ulaw_encode(1000), 0xce);
    assert_int_equal(tts_ulaw_encode(-1000), 0x4e);
    assert_int_equal(tts_ulaw_encode(100), 0xf2);
    assert_int_equal(tts_ulaw_encode(8031), 0xa0);
}

static void test_ulaw_round_trip_is_close(void **state)
{
    for (int s = -32768; s <= 32767; s += 7) {
        int back = tts_ulaw_decode(tts_ulaw_encode((int16_t)s));
        int diff = back > s ? back - s : s - back;
        int mag = s < 0 ? -s : s;

        /* mu-law keeps about 1/16 relative precision (and clips at 32635). */
        if (mag <= 32635)
            assert_true(diff <= mag / 16 + 8);
    }
    assert_int_equal(tts_ulaw_decode(0xff), 0);
}

static void test_say_gives_plausible_audio(void **state)
{
    struct tts_audio *a = NULL, *b = NULL, *c = NULL;
    struct ob_error err;
    size_t nonsilent = 0;

    assert_int_equal(tts_say("opsbell alert, incident 42. Press 1 to acknowledge.", &a, &err), 0);
    assert_non_null(a);
    /* About 3 seconds of speech at 8000 bytes per second: between 1.5 and 8 s. */
    assert_true(a->len > 12000);
    assert_true(a->len < 64000);
    for (size_t i = 0; i < a->len; i++)
        if (a->ulaw[i] != 0xff && a->ulaw[i] != 0x7f)
            nonsilent++;
    assert_true(nonsilent > a->len / 4);

    /* The same text again comes from the cache: the same buffer. */
    assert_int_equal(tts_say("opsbell alert, incident 42. Press 1 to acknowledge.", &b, &err), 0);
    assert_ptr_equal(a, b);
    /* A longer text is longer. */
    assert_int_equal(tts_say("opsbell alert, incident 42. Press 1 to acknowledge. Press 2 to "
                             "escalate, 9 to repeat.",
                             &c, &err),
                     0);
    assert_true(c->len > a->len);
    tts_audio_unref(a);
    tts_audio_unref(b);
    tts_cache_clear();
    /* Still valid after the cache let go: c holds its own reference. */
    assert_true(c->ulaw[c->len - 1] == c->ulaw[c->len - 1]);
    tts_audio_unref(c);
}

static void test_say_refuses_empty_and_huge(void **state)
{
    struct tts_audio *a = (struct tts_audio *)&a;
    struct ob_error err;
    char big[TTS_MAX_TEXT + 2];

    assert_int_equal(tts_say("", &a, &err), OB_EINVAL);
    assert_null(a);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(tts_say(big, &a, &err), OB_EINVAL);
    assert_null(a);
    tts_audio_unref(NULL);
}

static void test_control_characters_are_spoken_as_spaces(void **state)
{
    struct tts_audio *a = NULL, *b = NULL;
    struct ob_error err;

    assert_int_equal(tts_say("disk\r\nfull", &a, &err), 0);
    assert_int_equal(tts_say("disk  full", &b, &err), 0);
    assert_ptr_equal(a, b); /* same cache key after cleaning */
    tts_audio_unref(a);
    tts_audio_unref(b);
    tts_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ulaw_known_samples),
        cmocka_unit_test(test_ulaw_round_trip_is_close),
        cmocka_unit_test(test_say_gives_plausible_audio),
        cmocka_unit_test(test_say_refuses_empty_and_huge),
        cmocka_unit_test(test_control_characters_are_spoken_as_spaces),
    };
    return cmocka_run_group_tests_name("tts", tests, NULL, NULL);
}
