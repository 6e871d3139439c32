"""Distillation recipes: ``base:`` includes, overrides and the rules that span sections."""

from __future__ import annotations

import pytest
import yaml

from speechdistill.cli import main
from speechdistill.config import ConfigError
from speechdistill.distill.config import load_distill_config, merge
from speechdistill.distill.plan import plan_recipe

from .helpers import SYNTHETIC

BASE = {"student": {"size": "1m"}, "teachers": {"w2v": {"spec": "teachers/w2v"}},
        "data": {"train": "train.jsonl", "dev": "dev.jsonl"}, "train": {"max_updates": 10, "lr": 0.01}}


def _write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def _recipe(tmp_path, **extra):
    _write(tmp_path / "_base.yaml", BASE)
    data = {"base": "_base.yaml", "out_dir": "out",
            "losses": {"mix": {"alpha": 0.5}, "ctc": {}, "frame_kl": {"teacher": "w2v"}}, **extra}
    return _write(tmp_path / "recipe.yaml", data)


def test_base_is_merged_under_the_recipe_and_overrides_apply_last(tmp_path):
    path = _recipe(tmp_path, train={"lr": 0.5})
    config = load_distill_config(path, ["train.warmup_updates=3"])
    assert (config.train.max_updates, config.train.lr, config.train.warmup_updates) == (10, 0.5, 3)
    assert config.teachers["w2v"].spec == "teachers/w2v"


def test_merge_replaces_lists_and_scalars_and_merges_mappings():
    assert merge({"a": {"x": 1, "y": [1]}, "b": 1}, {"a": {"y": [2]}, "b": {"c": 2}}) == {
        "a": {"x": 1, "y": [2]}, "b": {"c": 2}}


def test_base_cycles_and_missing_bases_are_errors(tmp_path):
    _write(tmp_path / "a.yaml", {"base": "b.yaml"})
    _write(tmp_path / "b.yaml", {"base": "a.yaml"})
    with pytest.raises(ConfigError, match="cycle"):
        load_distill_config(tmp_path / "a.yaml")
    _write(tmp_path / "c.yaml", {"base": "missing.yaml"})
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        load_distill_config(tmp_path / "c.yaml")


def test_a_cache_refuses_speed_perturbation_with_a_clear_error(tmp_path):
    path = _recipe(tmp_path, teacher_source="cache", cache_dirs={"w2v": "cache/w2v"})
    with pytest.raises(ConfigError) as info:
        load_distill_config(path)
    assert "speed" in str(info.value) and "speed_factors: [1.0]" in str(info.value)
    config = load_distill_config(path, ["augment.speed_factors=[1.0]"])
    assert set(plan_recipe(config).requests) == {"w2v"}
    config = load_distill_config(path, ["augment.enabled=false"])
    assert config.teacher_source == "cache"


def test_a_cache_needs_a_directory_per_teacher_read(tmp_path):
    config = load_distill_config(_recipe(tmp_path, teacher_source="cache"), ["augment.speed_factors=[1.0]"])
    with pytest.raises(ConfigError, match="cache_dirs has no entry for w2v"):
        plan_recipe(config)


def test_unlabelled_data_has_no_hard_term(tmp_path):
    config = load_distill_config(_recipe(tmp_path), ["data.unlabelled=true"])
    with pytest.raises(ConfigError, match="data.unlabelled is true but losses has hard term"):
        plan_recipe(config)


def test_student_checks(tmp_path):
    path = _recipe(tmp_path)
    with pytest.raises(ConfigError, match="student.overrides: unknown key 'd_modle'; valid keys: .*d_model"):
        plan_recipe(load_distill_config(path, ["student.overrides={d_modle: 3}"]))
    with pytest.raises(ConfigError, match="not a conformer preset"):
        plan_recipe(load_distill_config(path, ["student.size=7m"]))
    with pytest.raises(ConfigError, match="init_from_teacher needs a wav2vec2 student"):
        load_distill_config(path, ["student.init_from_teacher=w2v"])
    with pytest.raises(ConfigError, match="'hubert', which is not under teachers"):
        load_distill_config(path, ["student.family=wav2vec2", "student.init_from_teacher=hubert"])


def test_cli_reports_recipe_errors_in_one_line(capsys):
    assert main(["distill", str(SYNTHETIC / "frame_kl.yaml"), "lossez.ctc.weight=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "lossez" in err and "valid keys" in err and "\n" not in err


def test_an_override_split_at_its_spaces_is_a_one_line_error(capsys):
    # `data.test={test: a.jsonl}` unquoted in a shell arrives as "data.test={test:" and "a.jsonl}"
    assert main(["distill", str(SYNTHETIC / "frame_kl.yaml"), "data.test={test:", "a.jsonl}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "override data.test" in err and "not valid YAML" in err and "quote" in err and "\n" not in err
