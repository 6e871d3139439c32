"""The speed harness: warm-up excluded, one thread inside timed calls, one record per utterance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdistill.bench.timing import (
    OneThreadRun,
    UtteranceTiming,
    make_clip,
    time_batched,
    time_latency,
    time_one_thread,
)
from tests.bench.helpers import FakeModel


def utterances(lengths):
    return [(f"u{i}", np.zeros(n, np.float32)) for i, n in enumerate(lengths)]


def test_warmup_is_not_timed_and_every_utterance_gets_one_record():
    model = FakeModel({1600: "a", 3200: "b", 4800: "c"}, first_call_s=0.3)
    run = time_one_thread(model, utterances([1600, 3200, 4800]), warmup=1)
    assert [r.id for r in run.records] == ["u0", "u1", "u2"]
    assert [r.text for r in run.records] == ["a", "b", "c"]  # the warm-up's "warm up" is not among them
    assert max(r.compute_s for r in run.records) < 0.3
    assert [r.audio_s for r in run.records] == pytest.approx([0.1, 0.2, 0.3])
    assert len(model.calls) == 4 and all(size == 1 for size, _ in model.calls)  # batch 1 throughout


def test_without_warmup_the_cold_call_would_be_timed():
    run = time_one_thread(FakeModel(first_call_s=0.3), utterances([1600, 1600]), warmup=0)
    assert run.records[0].compute_s >= 0.3


def test_one_thread_inside_timed_calls_and_restored_after():
    before = torch.get_num_threads()
    model = FakeModel()
    time_one_thread(model, utterances([800, 800]), warmup=1)
    assert {threads for _, threads in model.calls} == {1}
    assert torch.get_num_threads() == before


def test_rtf_median_p90_and_sequential_rtfx():
    records = tuple(UtteranceTiming(f"u{i}", 2.0, 0.2 * (i + 1), "") for i in range(10))
    run = OneThreadRun(records)
    rtfs = [0.1 * (i + 1) for i in range(10)]
    assert run.rtf_median == pytest.approx(np.median(rtfs))
    assert run.rtf_p90 == pytest.approx(np.percentile(rtfs, 90))
    assert run.rtfx == pytest.approx(20.0 / sum(0.2 * (i + 1) for i in range(10)))


def test_batched_run_uses_all_threads_and_batches():
    model = FakeModel()
    waveforms = [np.zeros(16_000, np.float32)] * 4
    run = time_batched(model, waveforms, threads=2, batch_seconds=2.0)
    assert {threads for _, threads in model.calls} == {2}
    assert [size for size, _ in model.calls] == [2, 2, 2]  # warm-up batch, then both batches timed
    assert run.audio_s == pytest.approx(4.0) and run.rtfx == pytest.approx(run.audio_s / run.compute_s)


def test_latency_and_clip():
    clip = make_clip([np.ones(3, np.float32), 2 * np.ones(4, np.float32)], seconds=1.0, sample_rate=10)
    assert clip.tolist() == [1, 1, 1, 2, 2, 2, 2, 1, 1, 1]
    model = FakeModel(first_call_s=0.3)
    assert 0 < time_latency(model, clip, repeats=3) < 300
    assert len(model.calls) == 4 and {threads for _, threads in model.calls} == {1}
    with pytest.raises(ValueError, match="no audio"):
        make_clip([], 5.0, 16_000)
