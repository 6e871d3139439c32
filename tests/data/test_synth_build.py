"""End to end: a tiny synthetic corpus is built, reloads with plain json, and a rerun resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from speechdistill.data.synth import SynthOptions, build_corpus
from speechdistill.data.synth.build import load_engines
from speechdistill.data.synth.splits import SPLIT_NAMES
from speechdistill.markers import read_marker
from speechdistill.text import Vocabulary, normalize_text

# About 15 s of audio per eval split and 20 s of train: a few utterances each.
TINY = dict(hours=0.012, seed=3, jobs=1, eval_share=0.1, min_eval_utterances=3, progress=False)


def _manifests(directory) -> dict[str, list[dict]]:
    return {name: [json.loads(line) for line in (directory / f"{name}.jsonl").read_text().splitlines()]
            for name in SPLIT_NAMES}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    return out, build_corpus(SynthOptions(out=out, **TINY))


def test_manifests_load_and_point_at_16khz_flac(built):
    out, _ = built
    vocabulary = Vocabulary.default()
    for name, rows in _manifests(out).items():
        assert len(rows) >= 3, name
        for row in rows:
            info = sf.info(str(out / row["audio_filepath"]))
            assert not row["audio_filepath"].startswith("/") and row["audio_filepath"].endswith(".flac")
            assert info.samplerate == 16_000 and info.channels == 1 and info.format == "FLAC"
            assert row["duration"] == pytest.approx(info.frames / 16_000, abs=1e-3)
            assert row["text"] == normalize_text(row["text"]) and not vocabulary.unknown_chars(row["text"])
            assert row["speaker"] == f"{row['engine']}/{row['voice']}"


def test_audio_is_speech_not_silence(built):
    out, _ = built
    for rows in _manifests(out).values():
        audio, _ = sf.read(str(out / rows[0]["audio_filepath"]), dtype="float32")
        assert audio.std() > 0.005 and abs(audio).max() < 1.0


def test_corpus_summary_and_marker(built):
    out, summary = built
    assert json.loads((out / "corpus.json").read_text()) == summary
    assert list(summary["splits"]) == list(SPLIT_NAMES)
    for name, split in summary["splits"].items():
        rows = _manifests(out)[name]
        assert split["utterances"] == len(rows)
        assert split["hours"] == pytest.approx(sum(r["duration"] for r in rows) / 3600, abs=1e-3)
    assert summary["splits"]["train"]["hours"] == max(s["hours"] for s in summary["splits"].values())
    assert summary["splits"]["test_unseen_engine"]["engines"] == {"piper": 3}
    assert summary["engines"]["espeak"]["voices"] > 700 and summary["vocabulary_size"] > 20
    assert summary["seed"] == 3 and summary["utterances_rendered"] == sum(len(r) for r in _manifests(out).values())
    marker = read_marker(out)
    assert marker.kind == "corpus" and marker.vocabulary == Vocabulary.default().labels


def test_noisy_split_carries_noise(built):
    out, _ = built
    for row in _manifests(out)["test_noisy"]:
        assert row["effects"]["noise"] != "none" and 5 <= row["effects"]["snr_db"] <= 15


def test_rerun_resumes_without_rendering(built):
    out, _ = built
    manifests = {name: (out / f"{name}.jsonl").read_bytes() for name in SPLIT_NAMES}
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("audio/*/*.flac")}
    summary = build_corpus(SynthOptions(out=out, **TINY))
    assert summary["utterances_rendered"] == 0 and summary["utterances_reused"] == len(mtimes)
    assert {p: p.stat().st_mtime_ns for p in out.glob("audio/*/*.flac")} == mtimes
    assert {name: (out / f"{name}.jsonl").read_bytes() for name in SPLIT_NAMES} == manifests


def test_interrupted_build_renders_only_what_is_missing(built, tmp_path):
    out, _ = built
    copy = tmp_path / "copy"
    for path in out.glob("audio/*/*.flac"):
        (copy / path.relative_to(out)).parent.mkdir(parents=True, exist_ok=True)
        (copy / path.relative_to(out)).write_bytes(path.read_bytes())
    removed = sorted(copy.glob("audio/train/*.flac"))[:2]
    for path in removed:
        path.unlink()
    summary = build_corpus(SynthOptions(out=copy, **TINY))
    assert summary["utterances_rendered"] == 2
    assert all(path.is_file() for path in removed)
    assert _manifests(copy) == _manifests(out)


def test_parallel_build_gives_the_same_corpus(built, tmp_path):
    out, _ = built
    parallel = tmp_path / "parallel"
    build_corpus(SynthOptions(out=parallel, **{**TINY, "jobs": 2}))
    assert _manifests(parallel) == _manifests(out)
    for path in out.glob("audio/*/*.flac"):      # byte for byte, even the breathy espeak variants
        assert (parallel / path.relative_to(out)).read_bytes() == path.read_bytes(), path.name


def test_missing_optional_engine_is_reported_not_fatal(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "hibari" else real_find_spec(name, *a))
    engines, missing = load_engines(SynthOptions(out=Path("unused"), progress=False))
    assert "hibari" not in engines and "speechdistill[synth]" in missing["hibari"]
