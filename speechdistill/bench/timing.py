"""Speed figures: the on-device real-time factor, RTFx and the latency of a 5 s clip.

* ``time_one_thread``: ONE thread, batch 1; ``warmup`` untimed utterances first; then every utterance
  once, timed with ``time.perf_counter`` around the model call only (audio already in memory; feature
  extraction and decoding included). RTF = compute seconds / audio seconds per utterance -> median, p90.
  The transcripts of these timed calls are the ones that get scored.
* ``time_batched``: RTFx as the Open ASR Leaderboard defines it, total audio seconds / total compute
  seconds, with ``threads`` threads and duration-sized batches; the first batch is run once untimed.
* ``time_latency``: wall milliseconds to transcribe one clip on one thread, median of ``repeats``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.batching import duration_batches
from .runtimes import BenchModel


@dataclass(frozen=True)
class UtteranceTiming:
    """One timed batch-1 call: the utterance, its length and compute time (seconds), and its transcript."""

    id: str
    audio_s: float
    compute_s: float
    text: str

    @property
    def rtf(self) -> float:
        return self.compute_s / self.audio_s


@dataclass(frozen=True)
class OneThreadRun:
    """Every utterance timed once on one thread, in input order."""

    records: tuple[UtteranceTiming, ...]

    @property
    def rtf_median(self) -> float:
        return float(statistics.median(r.rtf for r in self.records))

    @property
    def rtf_p90(self) -> float:
        return float(np.percentile([r.rtf for r in self.records], 90))

    @property
    def rtfx(self) -> float:
        """Total audio / total compute of this sequential run (the RTFx of a single-stream engine)."""
        return sum(r.audio_s for r in self.records) / sum(r.compute_s for r in self.records)

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.records]


def time_one_thread(model: BenchModel, utterances: Sequence[tuple[str, np.ndarray]], warmup: int) -> OneThreadRun:
    """Batch-1, one-thread timing of every ``(id, waveform)``; the first ``warmup`` run untimed beforehand."""
    if not utterances:
        raise ValueError("no utterances to time")
    records = []
    with model.threads(1):
        for _, waveform in utterances[:warmup]:
            model.transcribe([waveform])
        for utt_id, waveform in utterances:
            start = time.perf_counter()
            (text,) = model.transcribe([waveform])
            elapsed = time.perf_counter() - start
            records.append(UtteranceTiming(utt_id, len(waveform) / model.sample_rate, elapsed, text))
    return OneThreadRun(tuple(records))


@dataclass(frozen=True)
class BatchedRun:
    """Totals of the batched run; ``rtfx`` = audio_s / compute_s."""

    audio_s: float
    compute_s: float
    threads: int
    texts: tuple[str, ...]

    @property
    def rtfx(self) -> float:
        return self.audio_s / self.compute_s


def time_batched(model: BenchModel, waveforms: Sequence[np.ndarray], threads: int,
                 batch_seconds: float) -> BatchedRun:
    """RTFx over duration-sized batches (no shuffling) on ``threads`` threads; the first batch warms up."""
    seconds = [len(w) / model.sample_rate for w in waveforms]
    batches = duration_batches(seconds, batch_seconds, seed=0, shuffle=False)
    texts: list[str] = [""] * len(waveforms)
    compute_s = 0.0
    with model.threads(threads):
        model.transcribe([waveforms[i] for i in batches[0]])
        for indices in batches:
            start = time.perf_counter()
            out = model.transcribe([waveforms[i] for i in indices])
            compute_s += time.perf_counter() - start
            for i, text in zip(indices, out):
                texts[i] = text
    return BatchedRun(sum(seconds), compute_s, threads, tuple(texts))


def time_latency(model: BenchModel, clip: np.ndarray, repeats: int) -> float:
    """Median wall milliseconds for one batch-1, one-thread call on ``clip`` (one untimed call first)."""
    times = []
    with model.threads(1):
        model.transcribe([clip])
        for _ in range(repeats):
            start = time.perf_counter()
            model.transcribe([clip])
            times.append(time.perf_counter() - start)
    return float(statistics.median(times)) * 1000.0


def make_clip(waveforms: Sequence[np.ndarray], seconds: float, sample_rate: int) -> np.ndarray:
    """Exactly ``seconds`` of audio made by joining ``waveforms`` in order (repeated when too short)."""
    want = int(round(seconds * sample_rate))
    if not waveforms or not sum(len(w) for w in waveforms):
        raise ValueError("no audio to make a latency clip from")
    parts, have = [], 0
    while have < want:
        for w in waveforms:
            parts.append(w)
            have += len(w)
            if have >= want:
                break
    return np.concatenate(parts)[:want].astype(np.float32)
