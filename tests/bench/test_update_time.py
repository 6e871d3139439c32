"""benchmarks/update_time.py on tiny data: the three runs share one budget, the figures come from the runs'
own wall times, and the cache's disk figures cover every content type."""

from __future__ import annotations

import json
from pathlib import Path

from ..distill.helpers import TINY_STUDENT, TINY_W2V, write_tiny_corpus
from ..scripts import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "update_time.py"


def _module():
    return load_script(SCRIPT, "update_time")


def test_update_time_measures_three_runs_and_the_cache_disk(tmp_path, tiny_teacher_dir):
    corpus = write_tiny_corpus(tmp_path / "corpus")
    teacher = tiny_teacher_dir("wav2vec2", **TINY_W2V)
    out, work = tmp_path / "out", tmp_path / "work"
    assert _module().main(["--corpus", str(tmp_path / "corpus"), "--teacher", str(teacher), "--updates", "2",
                           "--batch-seconds", "3", "--hours", "1", "--disk-utterances", "2", "--out", str(out),
                           "--work", str(work), f"student.overrides={TINY_STUDENT}", "train.cpu=true"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert set(result["seconds_per_update"]) == {"hard_only", "frame_kl_live", "frame_kl_cached"}
    for name, seconds in result["seconds_per_update"].items():
        repeats = [json.loads((work / f"{name}_r{r}" / "metrics.json").read_text()) for r in range(2)]
        assert all(m["updates"] == 2 for m in repeats)
        assert result["seconds_per_update_every_repeat"][name] == [m["train_wall_s"] / 2 for m in repeats]
        assert seconds == min(m["train_wall_s"] / 2 for m in repeats) > 0
    assert result["ratio_to_hard_only"]["hard_only"] == 1.0
    assert result["cached_target_met"] == (result["ratio_to_hard_only"]["frame_kl_cached"] <= 1.2)
    disk = result["disk_per_audio_hour"]["every content type"]
    assert all(disk[kind] > 0 for kind in ("log_probs", "nbest", "hidden", "attentions", "total"))
    assert result["train_subset_hours"] > 0 and corpus["train"].is_file()
    text = (out / "update_time.md").read_text()
    assert "| frame_kl_cached |" in text and "target <= 1.2x" in text
