"""Shared fixtures: everything is made inside the tests, nothing is downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from speechdistill.data.audio import save_audio  # noqa: E402
from speechdistill.data.records import Utterance  # noqa: E402

TINY_TEXTS = ("turn on the lights", "set a timer", "call mom", "play some jazz", "what is the weather",
              "stop", "open the door", "add milk to the list")


def make_tone_utterances(directory, n: int = 8, seed: int = 0, sample_rate: int = 16_000) -> list[Utterance]:
    """``n`` short FLAC files of noisy tones with command-like transcripts (labels are arbitrary)."""
    rng = np.random.default_rng(seed)
    utts = []
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        seconds = float(rng.uniform(0.4, 1.2))
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        audio = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 400) * t) + 0.02 * rng.standard_normal(t.size)
        path = directory / f"utt{i:03d}.flac"
        save_audio(path, audio.astype(np.float32), sample_rate)
        utts.append(Utterance(f"utt{i:03d}", path, t.size / sample_rate, TINY_TEXTS[i % len(TINY_TEXTS)], "spk0"))
    return utts


@pytest.fixture
def tone_utterances(tmp_path):
    """Eight tiny labelled utterances on disk."""
    return make_tone_utterances(tmp_path / "audio")


def write_tone(path, seconds: float = 0.5, sample_rate: int = 16_000, channels: int = 1,
               subtype: str | None = None, freq_hz: float = 220.0):
    """Write a quiet sine (FLAC/WAV by suffix) with soundfile and return its path; 0 s gives an empty file."""
    import soundfile as sf

    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    mono = (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    audio = np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1) if channels > 1 else mono
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sample_rate, subtype=subtype)
    return path


@pytest.fixture
def tone():
    """``tone(path, seconds=0.5, sample_rate=16000, channels=1, subtype=None)`` writes a sine file."""
    return write_tone


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory):
    """``tiny_teacher_dir(family="wav2vec2", **options)`` -> a saved tiny random teacher directory.

    family: "wav2vec2", "hubert", "wavlm", "data2vec-audio" (CTC) or "whisper"; options go to the builders
    in tests/teachers/tiny_models.py. Each distinct (family, options) is built once per session.
    """
    from tests.teachers.tiny_models import save_tiny_ctc_teacher, save_tiny_whisper_teacher

    built = {}

    def build(family: str = "wav2vec2", **options):
        key = (family, tuple(sorted(options.items())))
        if key not in built:
            directory = tmp_path_factory.mktemp(family)
            built[key] = (save_tiny_whisper_teacher(directory, **options) if family == "whisper"
                          else save_tiny_ctc_teacher(directory, family, **options))
        return built[key]

    return build
