"""The faster-whisper peer runtime on a tiny random Whisper, and side benchmarks kept out of the README."""

from __future__ import annotations

import json

import numpy as np
import pytest

from speechdistill.bench.readme import latest_results
from speechdistill.bench.runtimes import get_runtime
from tests.bench.helpers import sample_results
from tests.teachers.tiny_ct2 import save_tiny_hf_whisper

pytest.importorskip("faster_whisper", reason="the runtime needs faster-whisper")


@pytest.fixture(scope="module")
def ct2_dir(tmp_path_factory):
    """A tiny Whisper with OpenAI's 30 s window (faster-whisper pads every input to it), converted by CTranslate2."""
    from ctranslate2.converters import TransformersConverter

    root = tmp_path_factory.mktemp("faster_whisper")
    hf_dir = save_tiny_hf_whisper(root / "hf", window_positions=1500, target_positions=448)
    out = root / "ct2"
    TransformersConverter(str(hf_dir), copy_files=["tokenizer.json"]).convert(str(out))
    return out


def test_transcribes_in_normalised_text_on_any_thread_count(ct2_dir):
    runtime = get_runtime("faster-whisper-int8")
    runtime.check(str(ct2_dir))
    model = runtime.open(str(ct2_dir))
    audio = [(0.1 * np.random.default_rng(seed).standard_normal(12_000)).astype(np.float32) for seed in range(2)]
    texts = model.transcribe(audio)
    assert len(texts) == 2 and all(isinstance(t, str) and t == t.lower() for t in texts)
    with model.threads(1):
        assert model.transcribe(audio) == texts  # greedy, and any fallback sampling seeded: the same text every time
    assert model.weights_files() == [ct2_dir / "model.bin"] and model.max_duration_s == 30.0


def test_a_folder_that_is_not_ctranslate2_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a CTranslate2 Whisper directory .*model.bin"):
        get_runtime("faster-whisper-int8").check(str(tmp_path))
    get_runtime("faster-whisper-int8").check("whisper-base")  # a packaged name resolves when opened


def test_runs_with_readme_false_are_not_taken_for_the_readme(tmp_path):
    for name, readme in (("2030-01-01_embedded", True), ("2030-01-02_whisper_peers", False)):
        results = sample_results()
        results["header"]["config"] = {"readme": readme}
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(results))
    assert latest_results(tmp_path).name == "2030-01-01_embedded"


def test_peers_listed_in_the_yaml_are_described():
    runtime = get_runtime("faster-whisper-int8")
    assert "int8" in runtime.description and "greedy" in runtime.description
