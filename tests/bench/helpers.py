"""Fakes for the benchmark tests: a model whose calls are recorded, and a small hand-made results dict."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
import torch

from speechdistill.bench.runtimes import torch_threads


class FakeModel:
    """Returns ``texts[i]`` for the i-th waveform it has seen by length; records threads and batch sizes.

    The first call sleeps ``first_call_s`` (a cold start) and answers "warm up"; calls on more than one
    thread answer "batched" so a test can tell which run's transcripts were scored.
    """

    max_duration_s = None
    num_parameters = 7
    parallel = True

    def __init__(self, texts_by_length: dict[int, str] | None = None, sample_rate: int = 16_000,
                 first_call_s: float = 0.0):
        self.texts = texts_by_length or {}
        self.sample_rate = sample_rate
        self.first_call_s = first_call_s
        self.calls: list[tuple[int, int]] = []  # (batch size, torch threads inside the call)

    def transcribe(self, waveforms: list[np.ndarray]) -> list[str]:
        self.calls.append((len(waveforms), torch.get_num_threads()))
        if len(self.calls) == 1:
            time.sleep(self.first_call_s)
            return ["warm up"] * len(waveforms)
        if torch.get_num_threads() > 1:
            return ["batched"] * len(waveforms)
        return [self.texts.get(len(w), "unknown") for w in waveforms]

    def threads(self, n: int) -> contextlib.AbstractContextManager:
        return torch_threads(n)

    def weights_files(self) -> list[Path]:
        return []


class FakeRuntime:
    """Opens one ``FakeModel`` per call and counts the calls."""

    name = "fake"

    def __init__(self, model: FakeModel):
        self.model = model
        self.opened = 0

    def check(self, path: str) -> None:
        pass

    def preload(self) -> None:
        pass

    def open(self, path: str) -> FakeModel:
        self.opened += 1
        return self.model


def sample_results(manifests=("test", "test_noisy"), quick: bool = False) -> dict:
    """A results.json-shaped dict with two models on each manifest."""
    header = {"name": "sample", "date": "2030-01-02", "commit": "0123456789abcdef", "dirty": False, "quick": quick,
              "machine": "Test CPU @ 1 GHz", "cpu_count": 2, "threads": {"rtf": 1, "rtfx": 2},
              "load_average_at_start": [0.5, 0.5, 0.5], "device_note": "an x86 core stands in for a phone core",
              "corpus": "synthetic test corpus", "memory": "probe", "python": "3.11", "torch": "2.11",
              "pocketsphinx": "5.1.1", "peers": {"pocketsphinx-general": "bundled model"}}
    rows = []
    for manifest in manifests:
        rows.append({"model": "big", "role": "teacher", "runtime": "torch-fp32", "manifest": manifest, "wer": 0.05,
                     "cer": 0.02, "rtf_1thread_median": 0.4, "rtf_1thread_p90": 0.5, "rtfx": 9.0, "rtfx_threads": 2,
                     "params": 8_400_000, "size_mb": 17.0, "peak_mem_mb": 800.0, "peak_mem_delta_mb": 60.0,
                     "latency_5s_ms": 2000.0, "num_utterances": 10})
        rows.append({"model": "pocketsphinx-general", "role": "peer", "runtime": "pocketsphinx",
                     "manifest": manifest, "wer": 0.6, "cer": 0.4, "rtf_1thread_median": 1.2,
                     "rtf_1thread_p90": 1.5, "rtfx": 0.8, "rtfx_threads": 1, "params": None, "size_mb": 37.0,
                     "peak_mem_mb": 140.0, "peak_mem_delta_mb": 110.0, "latency_5s_ms": 6000.0,
                     "num_utterances": 10})
    return {"header": header, "rows": rows}
