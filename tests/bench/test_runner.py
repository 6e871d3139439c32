"""The runner: one model object per model and runtime, timed transcripts scored, inputs checked first."""

from __future__ import annotations

import json

import pytest

from speechdistill.bench import runtimes
from speechdistill.bench.config import BenchConfig, ModelSpec, PeerSettings
from speechdistill.bench.runner import run_bench
from speechdistill.data.audio import load_audio
from speechdistill.data.manifests import write_nemo_manifest
from tests.bench.helpers import FakeModel, FakeRuntime
from tests.conftest import make_tone_utterances


def test_the_same_model_object_gives_wer_and_speed(tmp_path, monkeypatch):
    utts = make_tone_utterances(tmp_path / "audio", n=4, seed=1)
    texts = {len(load_audio(u.audio_path)): u.text for u in utts}
    assert len(texts) == 4  # lengths tell the utterances apart
    model = FakeModel(texts)
    runtime = FakeRuntime(model)
    monkeypatch.setitem(runtimes.RUNTIMES, "fake", lambda: runtime)
    config = BenchConfig(
        name="fake", models=(ModelSpec("m", str(tmp_path), "student", ("fake",)),),
        manifests={"a": str(write_nemo_manifest(tmp_path / "a.jsonl", utts[:2])),
                   "b": str(write_nemo_manifest(tmp_path / "b.jsonl", utts[2:]))},
        out_dir=str(tmp_path / "results"), warmup=1, threads=2, latency_seconds=0.5, memory_probe=False,
        peers=PeerSettings(pocketsphinx=False))
    out = run_bench(config)
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert runtime.opened == 1 and [r["manifest"] for r in rows] == ["a", "b"]
    # the batched run answers "batched" and the warm-up "warm up": a WER of 0 means the one-thread
    # timed transcripts were scored
    assert [r["wer"] for r in rows] == [0.0, 0.0] and [r["num_utterances"] for r in rows] == [2, 2]
    assert {threads for _, threads in model.calls} == {1, 2} and rows[0]["rtfx_threads"] == 2
    assert rows[0]["params"] == 7 and rows[0]["peak_mem_mb"] is None


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="train_manifest"):
        PeerSettings(pocketsphinx=True, domain_lm=True)
    with pytest.raises(ValueError, match="duplicate model names"):
        BenchConfig(name="x", models=(ModelSpec("m", "p", "student"), ModelSpec("m", "q", "teacher")),
                    manifests={"t": "t.jsonl"})
    with pytest.raises(ValueError, match="at least one test manifest"):
        BenchConfig(name="x", models=(), manifests={})
