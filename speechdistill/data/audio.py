"""Audio I/O with soundfile: mono float32 at 16 kHz, with bad audio reported clearly.

torchaudio's own load/save need torchcodec + FFmpeg, so reading and writing go through soundfile and
only resampling uses torchaudio.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from .. import SAMPLE_RATE_HZ
from ..io import atomic_write
from .errors import DataError


@lru_cache(maxsize=16)
def _resampler(orig_hz: int, new_hz: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(orig_hz, new_hz)


def resample(audio: np.ndarray, orig_hz: int, new_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Resample a 1-D float32 signal with torchaudio's windowed-sinc resampler."""
    if orig_hz == new_hz:
        return audio.astype(np.float32, copy=False)
    with torch.no_grad():
        out = _resampler(int(orig_hz), int(new_hz))(torch.from_numpy(np.ascontiguousarray(audio, np.float32)))
    return out.numpy()


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Down-mix (frames, channels) to (frames,) by averaging channels."""
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE_HZ, max_duration_s: float | None = None) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate``.

    Raises DataError (naming the file) for a missing or unreadable file, empty audio, NaN/inf samples,
    or audio longer than ``max_duration_s``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "audio file not found")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(str(path), f"unreadable audio ({exc})") from None
    # Check before resampling: torchaudio's resampler fails on an empty signal with a cryptic error.
    audio = check_audio(to_mono(audio), str(path), rate)
    return check_audio(resample(audio, rate, sample_rate), str(path), sample_rate, max_duration_s)


def check_audio(audio: np.ndarray, where: str, sample_rate: int = SAMPLE_RATE_HZ,
                max_duration_s: float | None = None) -> np.ndarray:
    """Validate a decoded signal; raise DataError naming ``where`` when it is unusable."""
    if audio.size == 0:
        raise DataError(where, "empty audio (0 samples)")
    if not np.isfinite(audio).all():
        raise DataError(where, "audio contains NaN or inf samples")
    duration = audio.shape[0] / sample_rate
    if max_duration_s is not None and duration > max_duration_s:
        raise DataError(where, f"audio is {duration:.1f} s, longer than the maximum {max_duration_s:g} s")
    return audio


def audio_duration_s(path: str | Path) -> float:
    """Duration from the file header (no decoding)."""
    if not Path(path).is_file():
        raise DataError(str(path), "audio file not found")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DataError(str(path), f"unreadable audio ({exc})") from None
    return info.frames / info.samplerate


def save_audio(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE_HZ) -> Path:
    """Write a mono float signal atomically; the format follows the suffix (.flac = 16-bit FLAC)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").upper() or "WAV"
    subtype = "PCM_16"
    clipped = np.clip(audio, -1.0, 1.0).astype(np.float32)
    return atomic_write(path, lambda tmp: sf.write(str(tmp), clipped, sample_rate, format=fmt, subtype=subtype))
