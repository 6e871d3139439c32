"""`speechdistill bench --quick` end to end on tone audio with a tiny teacher, a tiny student and PocketSphinx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from speechdistill.bench import load_bench_config
from speechdistill.cli import main
from speechdistill.data.manifests import write_nemo_manifest
from speechdistill.students import save_student, wav2vec2_ctc
from speechdistill.text import Vocabulary
from tests.conftest import make_tone_utterances

ROW_KEYS = {"model", "role", "runtime", "manifest", "wer", "cer", "rtf_1thread_median", "rtf_1thread_p90", "rtfx",
            "params", "size_mb", "peak_mem_mb", "latency_5s_ms", "num_utterances"}
HEADER_KEYS = {"machine", "threads", "date", "commit", "python", "torch"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_student_dir(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    return save_student(wav2vec2_ctc("0.5m", num_layers=1), Vocabulary.default(),
                        tmp_path_factory.mktemp("student") / "student")


def write_config(tmp_path: Path, models: list[dict], manifests: dict, **settings) -> Path:
    """A benchmark YAML in ``tmp_path``."""
    data = {"name": "tiny", "corpus": "noisy tones with arbitrary labels (a smoke test)",
            "out_dir": str(tmp_path / "results"), "models": models, "manifests": manifests,
            "peers": {"pocketsphinx": False}, **settings}
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_quick_run_writes_results_report_and_plot(tmp_path, tiny_teacher_dir, tiny_student_dir, capsys):
    test = write_nemo_manifest(tmp_path / "test.jsonl", make_tone_utterances(tmp_path / "a", n=2, seed=1))
    train = write_nemo_manifest(tmp_path / "train.jsonl", make_tone_utterances(tmp_path / "t", n=8))
    models = [{"name": "tiny-teacher", "path": str(tiny_teacher_dir("wav2vec2")), "role": "teacher"},
              {"name": "tiny-student", "path": str(tiny_student_dir), "role": "student"}]
    # memory_probe off here: each probe is a fresh interpreter importing torch (seconds on a busy box);
    # tests/bench/test_memory.py runs the probe itself
    config = write_config(tmp_path, models, {"test": str(test)}, latency_seconds=1.0, memory_probe=False,
                          peers={"pocketsphinx": True, "domain_lm": True, "train_manifest": str(train)})
    assert main(["bench", str(config), "--quick"]) == 0
    out = next((tmp_path / "results").iterdir())
    assert out.name.endswith("_tiny-quick") and "results.json" in capsys.readouterr().out

    results = json.loads((out / "results.json").read_text())
    assert HEADER_KEYS <= results["header"].keys() and results["header"]["threads"]["rtf"] == 1
    rows = results["rows"]
    assert [(r["model"], r["runtime"]) for r in rows] == [
        ("tiny-teacher", "torch-fp32"), ("tiny-student", "torch-fp32"),
        ("pocketsphinx-general", "pocketsphinx"), ("pocketsphinx-domain", "pocketsphinx")]
    for row in rows:
        assert ROW_KEYS <= row.keys() and row["num_utterances"] == 2 and 0 <= row["cer"]
        assert row["rtf_1thread_median"] > 0 and row["rtfx"] > 0 and row["latency_5s_ms"] > 0
        assert row["size_mb"] > 0 and row["peak_mem_mb"] is None
    assert [r["role"] for r in rows] == ["teacher", "student", "peer", "peer"]
    assert rows[1]["params"] > 0 and rows[2]["params"] is None and rows[1]["weights_dtypes"] == ["F32"]
    assert (out / "pocketsphinx_domain" / "domain.arpa").is_file()

    report = (out / "report.md").read_text()
    assert "| Model | Role | Runtime | WER |" in report and "an x86 core stands in for a phone core" in report
    assert report.count("| tiny-") == 2 and "Quick smoke-test run" in report
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_manifest_is_an_error_not_wer_zero(tmp_path, tiny_student_dir, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    config = write_config(tmp_path, [{"name": "s", "path": str(tiny_student_dir), "role": "student"}],
                          {"empty": str(empty)})
    assert main(["bench", str(config), "--quick"]) == 2
    assert "empty" in capsys.readouterr().err and not (tmp_path / "results").exists()


def test_unknown_model_path_is_a_clear_error(tmp_path, capsys):
    test = write_nemo_manifest(tmp_path / "test.jsonl", make_tone_utterances(tmp_path / "a", n=1))
    config = write_config(tmp_path, [{"name": "ghost", "path": str(tmp_path / "nope"), "role": "student"}],
                          {"test": str(test)})
    assert main(["bench", str(config)]) == 2
    err = capsys.readouterr().err
    assert "model 'ghost'" in err and "not found" in err


def test_unknown_runtime_is_refused(tmp_path, tiny_student_dir, capsys):
    test = write_nemo_manifest(tmp_path / "test.jsonl", make_tone_utterances(tmp_path / "a", n=1))
    model = {"name": "s", "path": str(tiny_student_dir), "role": "student", "runtimes": ["tflite"]}
    assert main(["bench", str(write_config(tmp_path, [model], {"test": str(test)}))]) == 2
    assert "unknown runtime 'tflite'" in capsys.readouterr().err


def test_embedded_config_loads():
    config = load_bench_config(REPO / "benchmarks" / "embedded.yaml")
    assert [m.path for m in config.models] == ["embedded_teachers/whisper_ctc", "whisper-base",
                                               "embedded_students/conformer-1m", "embedded_students/conformer-1m-bundle",
                                               "whisper-base"]
    assert config.models[3].runtimes == ("onnx-fp32", "onnx-int8")
    assert (config.models[4].role, config.models[4].runtimes) == ("peer", ("faster-whisper-int8",))
    assert list(config.manifests) == ["test", "test_unseen_voices", "test_noisy", "test_unseen_engine"]
    assert config.peers.domain_lm and config.for_quick().max_utterances == config.quick.max_utterances
