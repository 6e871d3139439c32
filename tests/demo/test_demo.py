"""`speechdistill demo` end to end at a toy size (the --quick preset shrunk further for CI), stage reuse,
resuming after a kill, and refusing a folder that holds other settings."""

from __future__ import annotations

import dataclasses
import json

import pytest

from speechdistill.cli import build_parser
from speechdistill.demo import QUICK, DemoSettings, run_demo
from speechdistill.demo.settings import check_folder
from speechdistill.demo.stages import STAGES, stage_path

TINY = DemoSettings(hours=0.03, updates=2, batch_seconds=3.0, warmup_updates=1, eval_every=2,
                    student_overrides={"d_model": 32, "num_heads": 2, "subsampling_channels": 8, "ff_mult": 2,
                                       "conv_kernel": 7},
                    bench_utterances=2, bench_manifests=("test", "test_unseen_voices"), bench_memory=False,
                    write_results=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # nothing in the demo may reach for the network
        report = run_demo(out, TINY)
    return out, report


def test_demo_runs_every_stage_and_reports(demo):
    out, report = demo
    assert [p.stem for p in sorted((out / "stages").glob("*.json"))] == sorted(s.name for s in STAGES)
    text = (out / "REPORT.md").read_text()
    assert "| hard_only |" in text and "| frame_kl |" in text and "### test_unseen_voices" in text
    results = json.loads(next((out / "bench").glob("*_demo/results.json")).read_text())
    runtimes = {(r["model"], r["runtime"]) for r in results["rows"]}
    assert {("frame_kl-bundle", "onnx-int8"), ("frame_kl-bundle", "onnx-fp32"), ("w2v-teacher", "torch-fp32"),
            ("hard_only-student", "torch-fp32"), ("pocketsphinx-general", "pocketsphinx"),
            ("whisper-base-faster-whisper", "faster-whisper-int8")} <= runtimes
    assert (out / "bundle" / "model.int8.onnx").is_file() and report["bundle"] == str(out / "bundle")
    assert report["ranking"] in ("kd", "hard_only")
    cache = json.loads(stage_path(out, "cache").read_text())["outputs"]
    assert set(cache) == {"w2v"}  # frame_kl reads the CTC teacher (whisper-ctc) only


def test_rerun_reuses_every_finished_stage(demo, capsys):
    out, report = demo
    assert run_demo(out, TINY) == report
    err = capsys.readouterr().err
    assert err.count("] reused") == len(STAGES) and "running" not in err


def test_a_killed_demo_resumes_from_its_last_finished_stage(demo, capsys):
    out, report = demo
    for name in ("bench", "report"):  # as if killed during the benchmark
        stage_path(out, name).unlink()
    run_demo(out, TINY)
    err = capsys.readouterr().err
    assert err.count("] reused") == len(STAGES) - 2 and "[bench] running" in err and "[report] running" in err


def test_other_settings_are_refused_and_force_starts_over(tmp_path):
    out = tmp_path / "run"
    check_folder(out, TINY, force=False)
    (out / "stages").mkdir()
    (out / "stages" / "corpus.json").write_text("{}")
    other = dataclasses.replace(TINY, updates=3)
    with pytest.raises(ValueError, match="other settings .*updates.*--force"):
        check_folder(out, other, force=False)
    check_folder(out, other, force=True)
    assert not (out / "stages").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="not a demo folder"):
        check_folder(foreign, TINY, force=False)


def test_cli_offers_the_quick_preset():
    args = build_parser().parse_args(["demo", "--quick", "--out", "x"])
    assert args.quick and str(args.out) == "x"
    assert QUICK.hours < 0.2 and QUICK.updates < 100 and not QUICK.write_results


def tiny_teacher_overrides(base_dir) -> list[str]:
    """The whisper-ctc recipe shrunk: a tiny random Whisper (8 s window) as the base, a one-layer head."""
    return [f"base={base_dir}", "window_s=8.0", "read_layer=-1", "cache_layers=[2]", "head.dim=16", "head.layers=1",
            "head.heads=2", "head.ffn_dim=32", "train.max_updates=2", "train.eval_every=2", "train.checkpoint_every=2",
            "train.batch_seconds=3.0", "train.cpu=true", "data.dev_max_utterances=3", "save_dtype=float32"]


def test_a_missing_teacher_is_trained_by_the_demo_and_said_so(demo, tmp_path, capsys, tiny_teacher_dir):
    from speechdistill.demo.report import teachers_line
    from speechdistill.demo.stages import DemoContext, _teacher_minutes, missing_teachers, run_teachers

    shipped_out, _ = demo
    settings = dataclasses.replace(TINY, teachers={"w2v": str(tmp_path / "not-shipped")}, teacher_minutes=0.5,
                                   teacher_overrides={"w2v": tiny_teacher_overrides(
                                       tiny_teacher_dir("whisper", max_source_positions=400))})
    assert missing_teachers(settings) == ["w2v"] and missing_teachers(TINY) == []
    assert _teacher_minutes(settings) > _teacher_minutes(TINY) == 0.0  # the estimate printed at start counts it
    out = tmp_path / "run"
    out.mkdir()
    (out / "corpus").symlink_to(shipped_out / "corpus")  # the fixture's corpus: only the teachers stage runs here
    record = run_teachers(DemoContext(out, settings, {}))
    teacher = record["teachers"]["w2v"]
    assert teacher["trained_here"] and teacher["path"] == str(out / "teachers" / "w2v" / "best")
    assert (out / "teachers" / "w2v" / "best" / "head.safetensors").is_file()
    err = capsys.readouterr().err
    assert "not-shipped is missing: training teacher 'w2v'" in err and "time-boxed to 0.5 min on this CPU" in err
    assert "trained by this demo run" in teachers_line(record["teachers"])
