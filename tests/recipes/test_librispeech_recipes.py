"""The LibriSpeech recipes, end to end for 2 updates: generated LibriSpeech-layout data -> prepare.py manifests
-> run.py (teacher caches, then distillation) with tiny random teachers of the hub teachers' architectures."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from speechdistill.students import load_student
from speechdistill.text import Vocabulary
from speechdistill.train.loop import read_log

from ..conftest import write_tone
from ..distill.helpers import RECIPES
from ..scripts import load_script

LIBRI = RECIPES / "librispeech"
FOLDERS = ("librispeech_wav2vec2", "librispeech_whisper", "librispeech_multi_teacher")
# The 10m preset's 6 blocks (so the recipes' layer maps hold) at a toy width.
TINY_STUDENT = "{d_model: 32, num_heads: 2, subsampling_channels: 8, ff_mult: 2, conv_kernel: 7}"
SUBSETS = {"train-clean-100": 6, "dev-clean": 2, "dev-other": 1, "test-clean": 2, "test-other": 1}
WORDS = ("TURN ON THE LIGHTS", "SET A TIMER FOR TEN MINUTES", "WHAT TIME IS IT", "CALL MY SISTER")


def _module(name: str):
    return load_script(LIBRI / f"{name}.py", f"librispeech_{name}")


def make_librispeech(root: Path) -> Path:
    """Every LibriSpeech subset the recipes read, as downloaded: SPEAKER/CHAPTER/*.flac + *.trans.txt."""
    for subset, n in SUBSETS.items():
        folder = root / subset / "103" / "1240"
        lines = []
        for i in range(n):
            uid = f"103-1240-{i:04d}"
            write_tone(folder / f"{uid}.flac", seconds=0.4 + 0.15 * i, freq_hz=180.0 + 40 * i)
            lines.append(f"{uid} {WORDS[i % len(WORDS)]}\n")
        (folder / "103-1240.trans.txt").write_text("".join(lines))
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("libri")
    root = make_librispeech(tmp / "LibriSpeech")
    assert _module("prepare").main(["manifests", "--librispeech", str(root), "--out", str(tmp / "manifests")]) == 0
    return tmp / "manifests"


@pytest.fixture(scope="module")
def hub_like_teachers(tiny_teacher_dir) -> dict[str, Path]:
    """Tiny random teachers shaped like the hub ones: wav2vec2-base-960h (12 layers, group-norm conv,
    upper-case labels) and Whisper (12 encoder layers)."""
    upper = tuple(label if label.startswith("<") else label.upper() for label in Vocabulary.default().labels)
    return {"w2v": tiny_teacher_dir("wav2vec2", labels=upper, feat_extract_norm="group", num_hidden_layers=12),
            "whisper": tiny_teacher_dir("whisper", max_source_positions=100, encoder_layers=12)}


def test_prepare_writes_every_split_and_train_960(data):
    names = sorted(p.stem for p in data.glob("*.jsonl"))
    assert names == ["dev_clean", "dev_other", "test_clean", "test_other", "train_960", "train_clean_100"]
    rows = [json.loads(line) for line in (data / "train_960.jsonl").read_text().splitlines()]
    assert len(rows) == SUBSETS["train-clean-100"] and rows[0]["text"] == "turn on the lights"
    assert Path(rows[0]["audio_filepath"]).is_absolute()


@pytest.mark.parametrize("folder", FOLDERS)
def test_recipe_caches_teachers_and_distils_two_updates(folder, data, hub_like_teachers, tmp_path, capsys):
    run = _module("run")
    out = tmp_path / "run"
    recipe = run.read_recipe(RECIPES / folder / "recipe.yaml")
    teachers = {name: hub_like_teachers[name] for name in recipe["teachers"]}
    overrides = [f"out_dir={out}", f"data.train={data / 'train_960.jsonl'}", f"data.dev={data / 'dev_clean.jsonl'}",
                 f"data.test={{test_clean: {data / 'test_clean.jsonl'}, test_other: {data / 'test_other.jsonl'}}}",
                 f"student.overrides={TINY_STUDENT}", "train.max_updates=2", "train.batch_seconds=3.0",
                 "train.eval_every=2", "train.checkpoint_every=2", "train.log_every=1", "train.warmup_updates=1",
                 "train.cpu=true", "train.num_workers=0",
                 *(f"teachers.{name}.spec={path}" for name, path in teachers.items()),
                 *(f"teachers.{name}.dtype=float32" for name in teachers),
                 *(f"cache_dirs.{name}={tmp_path / 'cache' / name}" for name in teachers),
                 *(f"cache.{name}.device=cpu" for name in teachers), *(f"cache.{name}.dtype=float32" for name in teachers),
                 *(f"cache.{name}.feature_dim=8" for name in teachers)]  # the tiny teachers are 16 wide
    assert run.main([str(RECIPES / folder), *overrides]) == 0
    commands = [line for line in capsys.readouterr().err.splitlines() if line.startswith("+ ")]
    assert [shlex.split(c)[1:3] for c in commands] == [["speechdistill", "cache-teacher"]] * len(teachers) + [
        ["speechdistill", "distill"]]
    for name in teachers:
        assert (tmp_path / "cache" / name / "speechdistill.json").is_file()
    rows = [r for r in read_log(out) if r["split"] == "train"]
    assert [r["update"] for r in rows] == [1, 2]
    assert rows[0]["distill"] > 0
    assert load_student(out / "best").marker.kind == "student"
    assert set(json.loads((out / "metrics.json").read_text())["wer"]) == {"dev", "test_clean", "test_other"}


@pytest.mark.parametrize("gpus,launcher", [(1, ["speechdistill", "cache-teacher"]), (8, ["torchrun", "--nproc_per_node=8"])])
def test_dry_run_prints_single_and_multi_gpu_commands(gpus, launcher, capsys):
    run = _module("run")
    assert run.main([str(RECIPES / "librispeech_multi_teacher"), f"--gpus={gpus}", "--dry-run"]) == 0
    lines = [shlex.split(line[2:]) for line in capsys.readouterr().err.splitlines() if line.startswith("+ ")]
    assert len(lines) == 3
    assert all(line[: len(launcher)] == launcher for line in lines[:2])
    assert "teacher=facebook/wav2vec2-base-960h" in lines[0] and "teacher=openai/whisper-small" in lines[1]
    if gpus == 8:
        assert lines[2][:4] == ["accelerate", "launch", "--config_file", str(LIBRI / "accelerate" / "8gpu.yaml")]
    else:
        assert lines[2][:2] == ["speechdistill", "distill"]


def test_pseudo_labelling_writes_a_labelled_manifest(data, hub_like_teachers, tmp_path):
    prepare = _module("prepare")
    audio = sorted(Path(json.loads(line)["audio_filepath"]).parent
                   for line in (data / "dev_clean.jsonl").read_text().splitlines())[0]
    out = prepare.pseudo_label(str(hub_like_teachers["w2v"]), audio, tmp_path / "pseudo.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["pseudo_label"] and r["teacher"] == str(hub_like_teachers["w2v"]) for r in rows)
    assert all(r["text"] for r in rows)  # empty transcripts are left out, and said so


def test_accelerate_configs_are_valid():
    from accelerate.commands.config.config_args import ClusterConfig

    for name, processes in (("1gpu", 1), ("8gpu", 8)):
        config = ClusterConfig.from_yaml_file(str(LIBRI / "accelerate" / f"{name}.yaml"))
        assert config.num_processes == processes and config.mixed_precision == "bf16"
