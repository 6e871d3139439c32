"""benchmarks/streaming.py runs end to end on the tiny streaming asset and writes its table (figures unchecked:
speed lives in benchmarks/, not in timed tests)."""

from __future__ import annotations

import json
from pathlib import Path

from speechdistill.export import export_bundle

from ..scripts import load_script

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "tests" / "assets"


def _script():
    return load_script(REPO / "benchmarks" / "streaming.py", "streaming_benchmark")


def test_streaming_benchmark_writes_the_table(tmp_path):
    script = _script()
    assert "Usage:" in script.__doc__
    offline = export_bundle(ASSETS / "tiny_student", tmp_path / "offline").path
    out = tmp_path / "out"
    assert script.main(["--students", str(ASSETS / "tiny_streaming_student"), "--manifest",
                        str(ASSETS / "tiny_student" / "manifest.jsonl"), "--offline-bundle", str(offline),
                        "--chunks", "16", "4", "--max-utterances", "3", "--out", str(out),
                        "--work", str(tmp_path / "work")]) == 0
    result = json.loads((out / "results.json").read_text())
    entry = result["students"]["tiny_streaming_student"]
    assert set(entry["torch_wer"]) == {"full", "16", "4"} and set(entry["runner"]) == {"16", "4"}
    figures = entry["runner"]["16"]
    assert 0 <= figures["wer"] <= 1 and figures["chunk_ms_median"] > 0 and figures["final_ms_median"] > 0
    assert figures["rtf"] > 0 and figures["size_mb"] > 0 and result["offline"]["wer"] <= 1
    assert "header" not in result  # benchmarks/update_readme.py passes this folder by
    table = (out / "streaming.md").read_text()
    assert "| tiny_streaming_student | 640 ms chunks | streaming runner |" in table and "## Targets" in table
