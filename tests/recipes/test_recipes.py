"""Every YAML under recipes/ loads and validates; each synthetic_commands recipe runs 2 updates on tiny data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from speechdistill.cache import CacheConfig
from speechdistill.cli import main
from speechdistill.config import ConfigError, load_config
from speechdistill.distill.config import load_distill_config, recipe_keys
from speechdistill.distill.plan import plan_recipe
from speechdistill.losses.registry import MIX_KEY
from speechdistill.markers import read_marker
from speechdistill.students import load_student
from speechdistill.teachers.train_whisper_ctc import WhisperCTCRecipe
from speechdistill.teachers.train_whisper_lora import WhisperLoRARecipe
from speechdistill.teachers.training import TeacherConfig
from speechdistill.train.loop import read_log

from ..distill.helpers import RECIPES, SYNTHETIC, tiny_overrides, tiny_teachers, write_tiny_corpus
from ..scripts import load_script


def _validate_teacher(path: Path, overrides: list[str]) -> None:
    recipes = {"whisper-ctc": WhisperCTCRecipe, "whisper-lora": WhisperLoRARecipe}
    load_config(recipes.get(yaml.safe_load(path.read_text()).get("architecture"), TeacherConfig), path, overrides)


def _validate_distill(path: Path, overrides: list[str]) -> None:
    plan_recipe(load_distill_config(path, overrides))


def _validate_cache(path: Path, overrides: list[str]) -> None:
    load_config(CacheConfig, path, overrides)


# recipes/<folder>/*.yaml -> how to validate it. A new recipe folder must add its config class here.
VALIDATORS = {"teachers": _validate_teacher, "synthetic_commands": _validate_distill, "librispeech": _validate_cache, "cache": _validate_cache,
              "librispeech_wav2vec2": _validate_distill, "librispeech_whisper": _validate_distill,
              "librispeech_multi_teacher": _validate_distill}
# accelerate launch configs are not speechdistill configs (test_librispeech_recipes checks them with accelerate)
ALL_YAMLS = sorted(p for p in RECIPES.rglob("*.yaml") if p.parent.name != "accelerate")
FRAGMENTS = [p for p in ALL_YAMLS if p.name.startswith("_")]  # included through `base:`, not run alone
RUNNABLE = [p for p in ALL_YAMLS if p not in FRAGMENTS]
SYNTHETIC_RECIPES = sorted(p.stem for p in SYNTHETIC.glob("[!_]*.yaml"))
METHODS = ("hard_only", "frame_kl", "sequence_kd_w2v", "sequence_kd_whisper", "features", "attention",
           "multi_teacher", "all", "labels10_hard_only", "labels10_pseudo_labels", "labels10_unlabelled_kd")
STREAMING_METHODS = ("streaming_hard_only", "streaming_kd", "streaming_inplace_kd")  # run by tests/recipes/test_streaming_recipes.py


def _id(path: Path) -> str:
    return str(path.relative_to(RECIPES))


@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_every_recipe_loads_and_validates(path):
    folder = path.parent.name
    assert folder in VALIDATORS, f"{_id(path)}: no config class registered for recipes/{folder}/ in this test"
    VALIDATORS[folder](path, [])


@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_unknown_key_is_an_error_naming_it_and_the_valid_ones(path):
    validator = VALIDATORS[path.parent.name]
    typo, valid = ("top_kk", "top_k") if validator is _validate_cache else ("train.max_updatez", "max_updates")
    with pytest.raises(ConfigError) as info:
        validator(path, [f"{typo}=3"])
    assert typo.split(".")[-1] in str(info.value) and "valid keys" in str(info.value) and valid in str(info.value)


@pytest.mark.parametrize("path", FRAGMENTS, ids=_id)
def test_base_fragments_hold_only_recipe_keys(path):
    unknown = set(yaml.safe_load(path.read_text())) - set(recipe_keys())
    assert not unknown, f"{_id(path)}: unknown top-level keys {sorted(unknown)}"


def test_every_method_has_a_recipe():
    assert sorted(METHODS + STREAMING_METHODS) == SYNTHETIC_RECIPES


def test_recipes_share_student_preset_and_update_budget():
    configs = {name: load_distill_config(SYNTHETIC / f"{name}.yaml") for name in SYNTHETIC_RECIPES}
    first = configs[SYNTHETIC_RECIPES[0]]
    for name, config in configs.items():
        streaming = name in STREAMING_METHODS  # the same preset made streaming (_streaming.yaml)
        assert config.student.overrides.get("streaming", False) == streaming, name
        student = dataclasses.replace(config.student, overrides={}) if streaming else config.student
        assert (student, config.train) == (first.student, first.train), name
        assert config.student.family == "conformer" and config.student.size == "1m"
        assert config.out_dir == f"runs/distill/{name}"
    assert configs["hard_only"].losses == {"mix": {"alpha": 1.0}, "ctc": {"weight": 1.0}}
    scarce = {name: configs[name].data for name in configs if name.startswith("labels10_")}
    assert len(scarce) == 3 and all(data.labelled_fraction == 0.1 for data in scarce.values())
    assert not scarce["labels10_hard_only"].keep_unlabelled and configs["labels10_hard_only"].losses == \
        configs["hard_only"].losses
    assert all(data.labelled_fraction == 1.0 for name, data in
               ((n, c.data) for n, c in configs.items()) if name not in scarce)


def test_unknown_loss_option_names_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        _validate_distill(SYNTHETIC / "frame_kl.yaml", ["losses.frame_kl.temprature=2"])
    assert "losses.frame_kl" in str(info.value) and "temprature" in str(info.value) and "temperature" in str(info.value)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_teacher_dir):
    """A tiny corpus and tiny random teachers with the embedded teachers' architectures."""
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus")), tiny_teachers(tiny_teacher_dir)


@pytest.mark.parametrize("name", METHODS)
def test_recipe_runs_two_updates_on_tiny_data(name, tiny, tmp_path, capsys):
    corpus, teachers = tiny
    out = tmp_path / name
    assert main(["distill", str(SYNTHETIC / f"{name}.yaml"), *tiny_overrides(corpus, teachers, out)]) == 0
    assert "student saved to" in capsys.readouterr().out
    log = read_log(out)
    train_rows = [r for r in log if r["split"] == "train"]
    assert [r["update"] for r in train_rows] == [1, 2]
    losses = [k for k in load_distill_config(SYNTHETIC / f"{name}.yaml").losses if k != MIX_KEY]
    assert all(loss in row for row in train_rows for loss in losses), (losses, train_rows[0])
    assert all(key in train_rows[0] for key in ("hard", "distill", "total", "lr", "grad_norm"))
    assert [r["update"] for r in log if r["split"] == "dev"] == [2]
    best = load_student(out / "best")
    assert best.marker.kind == "student" and read_marker(out / "best").extra["family"] == "conformer"
    card = (out / "best" / "README.md").read_text()
    assert "## Distillation" in card and f"{name}.yaml" in card and "| test |" in card
    assert (out / "checkpoints" / "last" / "model.safetensors").is_file()


def _run_script():
    return load_script(SYNTHETIC / "run.py", "synthetic_commands_run")


def test_recipe_script_runs_a_recipe_and_prints_the_wer_table(tiny, tmp_path, capsys):
    corpus, teachers = tiny
    script = _run_script()
    assert "Usage:" in script.__doc__
    assert script.main(["hard_only", *tiny_overrides(corpus, teachers, tmp_path / "run")]) == 0
    table = capsys.readouterr().out.strip().splitlines()[-3:]
    assert table[0] == "| method | dev | test | updates | audio h |" and table[2].startswith("| hard_only | ")
    assert [p.stem for p in script.all_recipes()] == SYNTHETIC_RECIPES
