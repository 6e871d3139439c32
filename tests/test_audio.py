"""Audio I/O: resampling to 16 kHz, stereo down-mix, bad audio reported with the file name."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechdistill.data.audio import audio_duration_s, load_audio, save_audio
from speechdistill.data.errors import DataError


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_load_audio_resamples_to_16k(tmp_path, tone, rate):
    path = tone(tmp_path / f"a{rate}.wav", seconds=0.75, sample_rate=rate)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.shape[0] - 12_000) <= 1
    # a 220 Hz sine keeps its amplitude through the resampler (away from the edges)
    assert np.abs(audio[2000:-2000]).max() == pytest.approx(0.3, abs=0.02)


def test_load_audio_mixes_stereo_down(tmp_path):
    left = np.full(1600, 0.2, np.float32)
    right = np.full(1600, 0.6, np.float32)
    sf.write(str(tmp_path / "s.wav"), np.stack([left, right], axis=1), 16_000, subtype="FLOAT")
    audio = load_audio(tmp_path / "s.wav")
    assert audio.shape == (1600,)
    np.testing.assert_allclose(audio, 0.4, atol=1e-6)


def test_header_duration_and_save_round_trip(tmp_path):
    signal = np.sin(np.arange(8000) / 10).astype(np.float32) * 0.5
    path = save_audio(tmp_path / "x.flac", signal)
    assert audio_duration_s(path) == pytest.approx(0.5)
    np.testing.assert_allclose(load_audio(path), signal, atol=1e-4)  # 16-bit FLAC
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left nothing behind


def test_max_duration(tmp_path, tone):
    path = tone(tmp_path / "long.wav", seconds=2.0)
    with pytest.raises(DataError, match=r"long\.wav: audio is 2\.0 s, longer than the maximum 1\.5 s"):
        load_audio(path, max_duration_s=1.5)


@pytest.mark.parametrize("rate", [8_000, 16_000])
def test_empty_audio_is_a_data_error(tmp_path, tone, rate):
    # At 8 kHz this used to reach the resampler and fail with a cryptic reshape error.
    path = tone(tmp_path / "empty.wav", seconds=0.0, sample_rate=rate)
    with pytest.raises(DataError, match=r"empty\.wav: empty audio \(0 samples\)"):
        load_audio(path)


def test_nan_samples(tmp_path):
    audio = np.zeros(800, np.float32)
    audio[10] = np.nan
    sf.write(str(tmp_path / "nan.wav"), audio, 16_000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav: audio contains NaN or inf"):
        load_audio(tmp_path / "nan.wav")


def test_missing_and_unreadable(tmp_path):
    with pytest.raises(DataError, match=r"nope\.wav: audio file not found"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(DataError, match=r"nope\.wav: audio file not found"):
        audio_duration_s(tmp_path / "nope.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(DataError, match=r"text\.wav: unreadable audio"):
        audio_duration_s(tmp_path / "text.wav")


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from speechdistill.io import atomic_write_text

    path = atomic_write_text(tmp_path / "x.txt", "hello")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text() == "hello"
