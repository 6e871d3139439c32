"""Each synthetic-corpus effect and noise generator: length, rate, finiteness, energy, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from speechdistill.data.synth import effects as fx
from speechdistill.data.synth.noise import NOISE_KINDS, make_noise

RATE = 16_000


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def _peak_hz(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def _band_energy(x: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum() / spectrum.sum())


@pytest.fixture
def tone() -> np.ndarray:
    t = np.arange(RATE) / RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture
def voice_like() -> np.ndarray:
    """A 150 Hz pulse train through two resonances: harmonics under a formant envelope."""
    t = np.arange(RATE) / RATE
    source = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 50))
    spectrum = np.fft.rfft(source)
    freqs = np.fft.rfftfreq(len(t), 1 / RATE)
    envelope = np.exp(-((freqs - 700) / 150) ** 2) + 0.6 * np.exp(-((freqs - 1800) / 200) ** 2)
    return (0.3 * np.fft.irfft(spectrum * envelope, len(t)) / 10).astype(np.float32)


def _strongest_hz(x: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    band = (freqs >= low) & (freqs < high)
    return float(freqs[band][np.argmax(spectrum[band])])


def _check(out: np.ndarray, length: int | None = None) -> None:
    assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all()
    if length is not None:
        assert abs(out.size - length) <= 1


def test_speed_perturb_changes_length_and_pitch(tone):
    out = fx.speed_perturb(tone, 1.1)
    _check(out, round(tone.size / 1.1))
    assert _peak_hz(out) == pytest.approx(440 * 1.1, abs=3)
    assert fx.speed_perturb(tone, 1.0) is not None and fx.speed_perturb(tone, 1.0).size == tone.size
    with pytest.raises(ValueError):
        fx.speed_perturb(tone, 0)


def test_time_stretch_keeps_pitch(tone):
    out = fx.time_stretch(tone, 0.8)
    _check(out, round(tone.size / 0.8))
    assert _peak_hz(out) == pytest.approx(440, abs=5)


def test_pitch_shift_keeps_length_and_moves_pitch(tone):
    out = fx.pitch_shift(tone, 3.0)
    _check(out, tone.size)
    assert _peak_hz(out) == pytest.approx(440 * 2 ** (3 / 12), rel=0.02)
    assert _rms(out) == pytest.approx(_rms(tone), rel=0.05)


def test_pitch_shift_can_keep_or_move_the_formants(voice_like):
    second_formant = _strongest_hz(voice_like, 1000, 2800)
    kept, moved = fx.pitch_shift(voice_like, 3.0), fx.pitch_shift(voice_like, 3.0, keep_formants=False)
    _check(kept, voice_like.size)
    assert abs(_strongest_hz(kept, 1000, 2800) - second_formant) < 120
    assert _strongest_hz(moved, 1000, 2800) / second_formant > 1.1          # up with the pitch


def test_formant_warp_moves_the_envelope_not_the_pitch(voice_like):
    up, down = fx.formant_warp(voice_like, 1.15), fx.formant_warp(voice_like, 0.87)
    _check(up, voice_like.size)
    harmonic_offset = _peak_hz(up) % 150
    assert min(harmonic_offset, 150 - harmonic_offset) < 3           # still on the 150 Hz harmonics
    second_formant = _strongest_hz(voice_like, 1000, 2800)          # 1800 Hz, on a harmonic
    assert _strongest_hz(up, 1000, 2800) / second_formant == pytest.approx(1.15, abs=0.08)
    assert _strongest_hz(down, 1000, 2800) / second_formant == pytest.approx(0.87, abs=0.08)
    assert _rms(up) == pytest.approx(_rms(voice_like), rel=0.01)
    np.testing.assert_array_equal(fx.formant_warp(voice_like, 1.0), voice_like)


def test_room_impulse_response_decays_at_its_rt60():
    rir = fx.room_impulse_response(RATE, 0.5, 0.0, np.random.default_rng(0))
    assert rir[0] == 1.0 and rir.size == int(RATE * 0.6)
    early, late = rir[RATE // 100: RATE // 10], rir[int(RATE * 0.4): int(RATE * 0.5)]
    # 60 dB in 0.5 s: about 36 dB between the two windows 0.35 s apart.
    assert 10 * np.log10(np.mean(early**2) / np.mean(late**2)) == pytest.approx(42, abs=8)
    tail_energy = float(np.sum(rir[1:] ** 2))
    assert tail_energy == pytest.approx(1.0, rel=1e-3)   # drr 0 dB


def test_reverberate_smears_an_impulse_and_is_deterministic():
    click = np.zeros(RATE, np.float32)
    click[100] = 1.0
    out = fx.reverberate(click, RATE, 0.6, 3.0, np.random.default_rng(1))
    _check(out, click.size)
    assert np.abs(out[2000:6000]).max() > 0.001
    np.testing.assert_array_equal(out, fx.reverberate(click, RATE, 0.6, 3.0, np.random.default_rng(1)))
    assert _rms(out) == pytest.approx(_rms(click), rel=1e-3)


def test_band_limit_removes_out_of_band_energy():
    white = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    phone = fx.band_limit(white, RATE, "telephone")
    _check(phone, white.size)
    assert _band_energy(phone, 0, 150) < 1e-3 and _band_energy(phone, 3600, 8000) < 1e-3
    assert _band_energy(fx.band_limit(white, RATE, "8khz"), 4000, 8000) < 1e-3
    np.testing.assert_array_equal(fx.band_limit(white, RATE, "full"), white)
    with pytest.raises(ValueError, match="unknown band"):
        fx.band_limit(white, RATE, "radio")


def test_add_noise_hits_the_snr(tone):
    noise = make_noise("white", tone.size, RATE, np.random.default_rng(0))
    noisy = fx.add_noise(tone, noise, 10.0)
    _check(noisy, tone.size)
    assert 10 * np.log10(_rms(tone) ** 2 / _rms(noisy - tone) ** 2) == pytest.approx(10.0, abs=0.1)


def test_set_level_and_pad(tone):
    quiet = fx.set_level(tone, -30.0)
    assert 20 * np.log10(_rms(quiet)) == pytest.approx(-30.0, abs=0.01)
    loud = fx.set_level(tone, 0.0)
    assert np.abs(loud).max() <= 0.99 + 1e-6
    padded = fx.pad_silence(tone, RATE, 0.25, 0.5)
    assert padded.size == tone.size + RATE * 3 // 4 and not padded[:4000].any()


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_kinds_are_unit_rms_and_deterministic(kind):
    voices = [np.random.default_rng(i).standard_normal(5000).astype(np.float32) for i in range(3)]
    noise = make_noise(kind, RATE, RATE, np.random.default_rng(3), voices)
    _check(noise, RATE)
    assert _rms(noise) == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_array_equal(noise, make_noise(kind, RATE, RATE, np.random.default_rng(3), voices))


def test_coloured_noise_slopes_and_hum():
    rng = np.random.default_rng(0)
    low = {k: _band_energy(make_noise(k, RATE, RATE, rng), 0, 500) for k in ("white", "pink", "brown")}
    assert low["white"] < low["pink"] < low["brown"]
    assert _peak_hz(make_noise("hum", RATE, RATE, rng)) in (50.0, 60.0)
    with pytest.raises(ValueError, match="unknown noise"):
        make_noise("rain", 10, RATE, rng)
