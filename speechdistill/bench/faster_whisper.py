"""The ``faster-whisper-int8`` runtime: Whisper through faster-whisper (CTranslate2), what an app would ship.

A model path is a packaged teacher name (``whisper-tiny.en``, ``whisper-base``: its kept CTranslate2
directory, see ``speechdistill.teachers.packaged``) or a CTranslate2 Whisper directory (model.bin,
config.json, tokenizer.json, vocabulary). Decoding: ``compute_type="int8"`` (int8 weights, quantised when
loaded), greedy (``beam_size=1``), English, no timestamps, no VAD, with faster-whisper's own temperature
fallback: a window whose text compresses too well (a repetition loop) or scores too low is decoded again by
sampling at rising temperatures, as faster-whisper does by default. Measured without it (temperature 0 only):
one demo clip of 40 looped into "until next week" 70 times, a WER of 16.4 on that clip and 105% on the split.
The sampling is seeded per clip, so runs repeat exactly. Text goes through ``normalize_text`` like every
other model's.
One ``WhisperModel`` per thread count (``cpu_threads`` is fixed when it is made).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..text import normalize_text

SAMPLE_RATE_HZ = 16_000
WINDOW_S = 30.0  # Whisper's encoder window; longer audio would be cut into windows by faster-whisper
# temperature, compression_ratio_threshold and log_prob_threshold stay faster-whisper's defaults: the fallback
DECODE_OPTIONS = {"language": "en", "beam_size": 1, "without_timestamps": True, "vad_filter": False,
                  "condition_on_previous_text": False}
FALLBACK_SEED = 0  # CTranslate2's sampling seed, set before every clip


def ct2_directory(path: str) -> Path:
    """A packaged teacher's CTranslate2 directory (made on first use), or ``path`` itself."""
    from ..teachers.packaged import is_packaged_name, packaged_ct2_dir

    return packaged_ct2_dir(path) if is_packaged_name(path) else Path(path)


class FasterWhisperModel:
    """A faster-whisper ``WhisperModel`` on the CPU in int8, greedy."""

    parallel = True
    num_parameters = None  # not read from a CTranslate2 file; the torch teacher row of the same model has it
    max_duration_s = WINDOW_S
    sample_rate = SAMPLE_RATE_HZ

    def __init__(self, path: str, compute_type: str = "int8"):
        self.directory = ct2_directory(path)
        self.compute_type = compute_type
        self.model = self._make(0)

    def _make(self, threads: int):
        from faster_whisper import WhisperModel

        return WhisperModel(str(self.directory), device="cpu", compute_type=self.compute_type, cpu_threads=threads)

    def transcribe(self, waveforms: list[np.ndarray]) -> list[str]:
        return [self._one(w) for w in waveforms]

    def _one(self, waveform: np.ndarray) -> str:
        import ctranslate2

        ctranslate2.set_random_seed(FALLBACK_SEED)
        segments, _ = self.model.transcribe(np.asarray(waveform, np.float32), **DECODE_OPTIONS)
        return normalize_text("".join(segment.text for segment in segments))

    @contextlib.contextmanager
    def threads(self, n: int) -> Iterator[None]:
        before = self.model
        self.model = self._make(n)
        try:
            yield
        finally:
            self.model = before

    def weights_files(self) -> list[Path]:
        return [self.directory / "model.bin"]  # as stored (float16 for the packaged models), int8 once loaded


class FasterWhisperRuntime:
    """``faster-whisper-int8``: a packaged Whisper name or a CTranslate2 Whisper directory."""

    name = "faster-whisper-int8"
    description = ("faster-whisper (CTranslate2) int8 on the CPU: greedy, English, no timestamps, no VAD, "
                   "temperature fallback on loops (seeded); size is model.bin as stored (float16), quantised to int8 when loaded")

    def check(self, path: str) -> None:
        from ..teachers.packaged import is_packaged_name

        if is_packaged_name(path):
            return
        missing = [name for name in ("model.bin", "config.json", "tokenizer.json") if not (Path(path) / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{path}: not a CTranslate2 Whisper directory (missing {', '.join(missing)}); "
                                    "give a packaged teacher name such as whisper-base")

    def preload(self) -> None:
        import ctranslate2  # noqa: F401
        import faster_whisper  # noqa: F401

    def open(self, path: str) -> FasterWhisperModel:
        return FasterWhisperModel(path)
