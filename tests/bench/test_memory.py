"""The memory probe runs in a fresh process and reports its own peak, not the parent's."""

from __future__ import annotations

import numpy as np
import pytest

from speechdistill.bench.domain_lm import build_domain_model
from speechdistill.bench.memory import max_rss_mb, measure_memory
from speechdistill.bench.pocketsphinx import bundled_model_dir
from tests.conftest import TINY_TEXTS


def test_probe_reports_baseline_and_peak_of_its_own_process(tmp_path):
    domain = build_domain_model(TINY_TEXTS, bundled_model_dir() / "cmudict-en-us.dict", tmp_path / "lm")
    ballast = np.ones(60_000_000, np.uint8)  # the parent's peak must not leak into the child's figures
    audio = [0.1 * np.sin(np.linspace(0, 500, 8000, dtype=np.float32)) for _ in range(2)]
    figures = measure_memory("pocketsphinx", str(domain.directory), audio)
    assert figures.utterances == 2 and 0 < figures.baseline_mb <= figures.peak_mb
    assert figures.peak_mb < max_rss_mb() - ballast.size / 1e6 / 2
    assert figures.delta_mb == pytest.approx(figures.peak_mb - figures.baseline_mb)


def test_a_failing_probe_says_which_model(tmp_path):
    with pytest.raises(RuntimeError, match="memory probe for .*nowhere"):
        measure_memory("pocketsphinx", str(tmp_path / "nowhere"), [np.zeros(1600, np.float32)])
