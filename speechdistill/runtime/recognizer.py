"""``BundleRecognizer``: text from audio with an exported bundle, on numpy + onnxruntime alone.

The phone-side path in Python: soundfile reads the audio, soxr resamples other rates to the bundle's,
features are computed in numpy (:mod:`speechdistill.runtime.fbank`), the ONNX graph gives CTC
log-probabilities and greedy decoding gives text, normalised like every transcript in the package.
Neither torch nor torchaudio is imported on this path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..text import normalize_text
from .bundle import BundleInfo, OnnxCTCModel, greedy_text, read_bundle

DEFAULT_BATCH_SECONDS = 60.0


def read_audio(audio: str | Path | np.ndarray, sample_rate: int, input_rate: int | None = None) -> np.ndarray:
    """A file path or a 1-D array (at ``input_rate``, default ``sample_rate``) -> mono float32 at ``sample_rate``."""
    if isinstance(audio, (str, Path)):
        import soundfile as sf

        try:
            signal, rate = sf.read(str(audio), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise ValueError(f"{audio}: cannot read audio: {exc}") from None
        signal = signal.mean(axis=1)
    else:
        signal, rate = np.asarray(audio, np.float32), input_rate or sample_rate
        if signal.ndim != 1:
            raise ValueError(f"expected a 1-D mono waveform, got shape {signal.shape}")
    if rate != sample_rate:
        import soxr

        signal = soxr.resample(signal, rate, sample_rate).astype(np.float32)
    if not np.all(np.isfinite(signal)):
        raise ValueError(f"{audio if isinstance(audio, (str, Path)) else 'waveform'}: audio holds NaN or inf samples")
    return signal


class BundleRecognizer:
    """``BundleRecognizer("bundle/").transcribe("a.wav")``; ``precision`` 'int8' (default) or 'fp32'."""

    kind = "bundle"
    family = "ctc"

    def __init__(self, bundle: str | Path | BundleInfo, precision: str = "int8", *, threads: int | None = None):
        info = bundle if isinstance(bundle, BundleInfo) else read_bundle(bundle)
        if precision == "int8" and "int8" not in info.files:
            precision = "fp32"  # exported with --no-int8
        self.model = OnnxCTCModel(info, precision, threads=threads)
        self.info = info
        self.name = f"{info.path}:{self.model.precision}"
        self.sample_rate = info.fbank.sample_rate_hz

    def transcribe_waveforms(self, waveforms: list[np.ndarray]) -> list[str]:
        log_probs, lengths = self.model(waveforms)
        return [normalize_text(greedy_text(lp, int(n), self.info.tokens)) for lp, n in zip(log_probs, lengths)]

    def transcribe(self, audio: str | Path | np.ndarray | Sequence[str | Path | np.ndarray], *,
                   sample_rate: int | None = None, batch_seconds: float = DEFAULT_BATCH_SECONDS) -> str | list[str]:
        """Text for one input (a str back) or a list of inputs (a list back, in order)."""
        single = not isinstance(audio, (list, tuple))
        signals = [read_audio(a, self.sample_rate, sample_rate) for a in ([audio] if single else audio)]
        order = sorted(range(len(signals)), key=lambda i: len(signals[i]))
        texts: list[str] = [""] * len(signals)
        batch: list[int] = []
        for i in order + [None]:
            if batch and (i is None or len(signals[i]) * (len(batch) + 1) > batch_seconds * self.sample_rate):
                for j, text in zip(batch, self.transcribe_waveforms([signals[j] for j in batch])):
                    texts[j] = text
                batch = []
            if i is not None:
                batch.append(i)
        return texts[0] if single else texts
