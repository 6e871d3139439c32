"""The distillation trainer in-process: loss parameters train, unlabelled data stays unlabelled, cached sources."""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from speechdistill.data.manifests import read_manifest
from speechdistill.distill.config import load_distill_config
from speechdistill.distill.live import LiveTeacherSource
from speechdistill.distill.sources import TeacherRequest
from speechdistill.distill.training import distill, finish, fit, prepare
from speechdistill.teachers.loader import load_teacher
from speechdistill.train.loop import read_log

from .helpers import SYNTHETIC, tiny_overrides, tiny_teachers, write_tiny_corpus


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_teacher_dir):
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus")), tiny_teachers(tiny_teacher_dir)


def _config(name: str, tiny, out: Path, *extra: str):
    corpus, teachers = tiny
    return load_distill_config(SYNTHETIC / f"{name}.yaml", [*tiny_overrides(corpus, teachers, out), *extra])


class RecordingSource:
    """Wraps a teacher source and keeps every batch it was asked about."""

    def __init__(self, inner):
        self.inner, self.names, self.batches = inner, inner.names, []

    def outputs(self, batch):
        self.batches.append(batch)
        return self.inner.outputs(batch)


def test_feature_projections_are_trained_and_checkpointed_with_the_student(tiny, tmp_path):
    run = prepare(_config("features", tiny, tmp_path / "run"))
    before = {k: v.clone() for k, v in run.module.loss.state_dict().items()}
    assert before and all("projections" in k for k in before)
    fit(run)
    saved = load_file(tmp_path / "run" / "checkpoints" / "last" / "model.safetensors")
    for key, value in run.module.loss.state_dict().items():
        assert not torch.equal(value, before[key]), f"{key} did not train"
        torch.testing.assert_close(saved[f"loss.{key}"], value)
    assert any(k.startswith("student.") for k in saved)


def test_unlabelled_recipe_never_sees_a_transcript(tiny, tmp_path):
    corpus, _ = tiny
    assert all(u.text for u in read_manifest(corpus["train"])), "the manifest itself has transcripts"
    recipe = tmp_path / "unlabelled.yaml"
    recipe.write_text(f"base: {SYNTHETIC / '_base.yaml'}\ndata: {{unlabelled: true}}\nlosses:\n  mix: {{alpha: 0.0}}\n"
                      "  frame_kl: {teacher: w2v}\n  sequence_kd: {teacher: w2v, weight: 0.5, nbest: 4}\n")
    corpus, teachers = tiny
    config = load_distill_config(recipe, tiny_overrides(corpus, teachers, tmp_path / "run"))
    run = prepare(config)
    assert all(u.text is None for u in run.train_set.utterances)
    assert len(run.module.loss.hard.terms) == 0  # no hard term at all
    spy = RecordingSource(run.source)
    finish(dataclasses.replace(run, source=spy), fit(dataclasses.replace(run, source=spy)))
    assert len(spy.batches) == 2
    for batch in spy.batches:
        assert batch.texts == (None,) * len(batch) and not batch.labelled.any()
        assert (batch.labels == -100).all() and (batch.label_lengths == 0).all()
    rows = [r for r in read_log(tmp_path / "run") if r["split"] == "train"]
    assert rows and all(r["hard"] == 0.0 and "ctc" not in r and r["total"] == r["distill"] for r in rows)


def _fake_cache_module(teacher_dir: Path, calls: dict) -> types.ModuleType:
    """A stand-in ``speechdistill.cache`` whose source serves a live teacher's outputs, recording its use."""
    teacher = load_teacher(teacher_dir)

    class CachedTeacherSource:
        def __init__(self, cache_dirs, requests, device=None, expected_keys=None):
            calls.update(dirs=dict(cache_dirs), requests=dict(requests), keys=dict(expected_keys or {}))
            self.live = LiveTeacherSource({name: teacher for name in cache_dirs}, requests)
            self.names = self.live.names
            self.caches = {}  # name -> TeacherCache in the real source; none here, so no window check
            calls["ids"] = []

        def outputs(self, batch):
            calls["ids"].append(batch.ids)
            return self.live.outputs(batch)

    def expected_key(manifest, teacher):
        return ("key", str(manifest), str(teacher))

    module = types.ModuleType("speechdistill.cache")
    module.CachedTeacherSource, module.expected_key = CachedTeacherSource, expected_key
    return module


def test_cache_source_is_built_from_the_recipe(tiny, tmp_path, monkeypatch):
    corpus, teachers = tiny
    calls: dict = {}
    monkeypatch.setitem(sys.modules, "speechdistill.cache", _fake_cache_module(teachers["w2v"], calls))
    config = _config("frame_kl", tiny, tmp_path / "run", "teacher_source=cache",
                     f"cache_dirs={{w2v: {tmp_path / 'cache'}}}", "augment.speed_factors=[1.0]")
    distill(config)
    assert calls["dirs"] == {"w2v": tmp_path / "cache"}
    assert calls["requests"] == {"w2v": TeacherRequest(log_probs=True)}
    assert calls["keys"] == {"w2v": ("key", str(corpus["train"]), str(teachers["w2v"]))}
    assert len(calls["ids"]) == 2
    assert all("frame_kl" in r for r in read_log(tmp_path / "run") if r["split"] == "train")


def test_real_teacher_cache_feeds_the_trainer(tiny, tmp_path):
    cache = pytest.importorskip("speechdistill.cache")
    corpus, teachers = tiny
    cache.build_cache(cache.CacheConfig(teacher=str(teachers["w2v"]), manifest=str(corpus["train"]),
                                        out_dir=str(tmp_path / "cache"), hidden_layers=(3, 6), device="cpu"))
    config = _config("features", tiny, tmp_path / "run", "teacher_source=cache", f"cache_dirs={{w2v: {tmp_path / 'cache'}}}",
                     "augment.speed_factors=[1.0]", "losses.frame_kl={teacher: w2v, temperature: 2.0}")
    distill(config)
    rows = [r for r in read_log(tmp_path / "run") if r["split"] == "train"]
    assert [r["update"] for r in rows] == [1, 2] and all("frame_kl" in r and "feature" in r for r in rows)


def test_wav2vec2_student_can_start_from_the_teacher(tiny, tmp_path, capsys):
    shapes = ("{hidden_size: 16, num_layers: 2, num_heads: 2, intermediate_size: 32, conv_dim: [8, 8, 8], "
              "conv_kernel: [10, 4, 16], conv_stride: [5, 4, 16], pos_conv_kernel: 16, pos_conv_groups: 2}")
    run = prepare(_config("frame_kl", tiny, tmp_path / "run", "student.family=wav2vec2", "student.size=0.5m",
                          f"student.overrides={shapes}", "student.init_from_teacher=w2v"))
    copied = int(capsys.readouterr().err.split("copied ")[1].split()[0])
    assert copied > 10
    teacher = run.source.teachers["w2v"].model.wav2vec2.encoder.layers[-1].attention.k_proj.weight
    student = run.module.student.model.wav2vec2.encoder.layers[-1].attention.k_proj.weight
    assert torch.equal(student, teacher)


def test_a_labelled_share_keeps_its_transcripts_and_the_rest_is_audio_only(tiny, tmp_path):
    corpus, _ = tiny
    texts = {u.id: u.text for u in read_manifest(corpus["train"])}
    extra = ["data.labelled_fraction=0.5"]
    mixed = prepare(_config("labels10_unlabelled_kd", tiny, tmp_path / "mixed", *extra)).train_set.utterances
    labelled = {u.id for u in mixed if u.text is not None}
    assert len(mixed) == len(texts) and len(labelled) == len(texts) // 2
    assert all(u.text == texts[u.id] for u in mixed if u.id in labelled)
    alone = prepare(_config("labels10_hard_only", tiny, tmp_path / "alone", *extra)).train_set.utterances
    assert {u.id for u in alone} == labelled and all(u.text == texts[u.id] for u in alone)


def test_unlabelled_audio_without_a_teacher_or_with_no_labels_at_all_is_refused(tiny, tmp_path):
    from speechdistill.config import ConfigError
    from speechdistill.distill.plan import plan_recipe

    with pytest.raises(ConfigError, match="no distillation term reads the unlabelled audio"):
        plan_recipe(_config("labels10_hard_only", tiny, tmp_path / "a", "data.keep_unlabelled=true"))
    with pytest.raises(ConfigError, match="data.labelled_fraction"):
        plan_recipe(_config("labels10_unlabelled_kd", tiny, tmp_path / "b", "data.unlabelled=true",
                            "losses.mix.alpha=0.0"))
