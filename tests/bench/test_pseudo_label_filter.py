"""benchmarks/pseudo_label_filter.py: kept shares and WER per confidence threshold, per engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..scripts import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pseudo_label_filter.py"


def _module():
    return load_script(SCRIPT, "pseudo_label_filter")


def test_threshold_rows_keep_the_confident_and_score_them_per_engine():
    pairs = [("turn on the light", "turn on the light", 0.95, "a"),    # confident, right
             ("play some jazz", "play sam jazz", 0.6, "a"),            # unsure, one word wrong of three
             ("set a timer", "set a timer", 0.99, "b"),
             ("call my mother", "fall my brother", 0.4, "b")]          # unsure, two of three wrong
    rows = _module().threshold_rows(pairs, [0.0, 0.5, 0.9])
    assert [r["kept"] for r in rows] == [4, 3, 2]
    assert rows[0]["wer"] == pytest.approx(3 / 13)
    assert rows[1]["wer"] == pytest.approx(1 / 10)
    assert rows[2]["wer"] == 0.0
    assert rows[1]["engines"]["b"] == {"kept_share": 0.5, "wer": 0.0}
    assert rows[0]["engines"]["b"]["wer"] == pytest.approx(2 / 6)
    assert "| 0.9 | 50.0% | 0.0% |" in _module().render(rows, {"cache": "c", "manifest": "m", "labelled_fraction": 0.1,
                                                                 "labelled": 4})
