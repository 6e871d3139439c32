"""The streaming recipes (streaming_hard_only, streaming_kd, streaming_inplace_kd) run a few updates on tiny data,
and the in-place teacher (the student's own full-context mode) behaves as a frozen CTC teacher."""

from __future__ import annotations

import pytest
import torch

from speechdistill.cli import main
from speechdistill.data.dataset import UtteranceDataset, collate
from speechdistill.data.manifests import read_manifest
from speechdistill.distill.config import load_distill_config
from speechdistill.distill.inplace import SELF_SPEC, SelfTeacherSource, with_self_teachers
from speechdistill.distill.plan import plan_recipe
from speechdistill.export.streaming import export_streaming_bundle
from speechdistill.students import conformer_ctc, load_student
from speechdistill.teachers.base import LOG_ZERO
from speechdistill.text import Vocabulary
from speechdistill.train.loop import read_log

from ..distill.helpers import SYNTHETIC, tiny_overrides, tiny_teachers, write_tiny_corpus

STREAMING = ["student.overrides.streaming=true", "student.overrides.chunk_frames=2", "student.overrides.left_chunks=2",
             "student.overrides.max_train_chunk_frames=4"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_teacher_dir):
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus")), tiny_teachers(tiny_teacher_dir)


def test_streaming_recipes_differ_only_in_how_the_student_is_taught():
    hard = load_distill_config(SYNTHETIC / "streaming_hard_only.yaml")
    kd = load_distill_config(SYNTHETIC / "streaming_kd.yaml")
    inplace = load_distill_config(SYNTHETIC / "streaming_inplace_kd.yaml")
    for other in (kd, inplace):
        assert (hard.student, hard.train, hard.data, hard.augment) == \
            (other.student, other.train, other.data, other.augment)
    assert hard.student.overrides["streaming"] and hard.student.overrides["chunk_frames"] == 16
    assert list(plan_recipe(kd).requests) == ["w2v"] and not plan_recipe(hard).requests
    assert inplace.teachers["full_context"].spec == SELF_SPEC
    assert list(plan_recipe(inplace).requests) == ["full_context"]
    # a cached comparison run still works: the student's own mode needs no cache
    assert plan_recipe(load_distill_config(SYNTHETIC / "streaming_inplace_kd.yaml", ["teacher_source=cache"])).requests


@pytest.mark.parametrize("name", ["streaming_hard_only", "streaming_kd", "streaming_inplace_kd"])
def test_streaming_recipe_runs_and_exports(name, tiny, tmp_path, capsys):
    corpus, teachers = tiny
    out = tmp_path / name
    assert main(["distill", str(SYNTHETIC / f"{name}.yaml"), *tiny_overrides(corpus, teachers, out, updates=3),
                 *STREAMING]) == 0
    assert "student saved to" in capsys.readouterr().out
    rows = [r for r in read_log(out) if r["split"] == "train"]
    assert [r["update"] for r in rows] == [1, 2, 3]
    assert all(("frame_kl" in r) == (name != "streaming_hard_only") for r in rows)
    assert all(torch.isfinite(torch.tensor(r["total"])) for r in rows)
    best = load_student(out / "best")
    assert best.model.config.streaming and best.model.config.chunk_frames == 2
    result = export_streaming_bundle(out / "best", tmp_path / "bundle", chunk_frames=4, left_chunks=2, int8=False)
    assert result.max_abs_diff < 1e-4


def _batch(tiny):
    corpus, _ = tiny
    vocab = Vocabulary.default()
    utts = read_manifest(str(corpus["train"]), labelled=True, vocab=vocab)[:3]
    dataset = UtteranceDataset(utts, vocab)
    return collate([dataset[i] for i in range(len(utts))]), vocab


def test_self_teacher_is_the_students_full_context_mode(tiny):
    batch, vocab = _batch(tiny)
    torch.manual_seed(0)
    student = conformer_ctc("0.5m", vocab_size=len(vocab), streaming=True, d_model=32, num_heads=2,
                            subsampling_channels=8, conv_kernel=7).train()
    config = load_distill_config(SYNTHETIC / "streaming_inplace_kd.yaml")
    source = with_self_teachers(None, config, plan_recipe(config).requests, student, vocab)
    assert isinstance(source, SelfTeacherSource) and source.names == ("full_context",)
    out = source.outputs(batch)["full_context"]
    assert student.training  # restored after the eval-mode pass
    assert not out.log_probs.requires_grad and out.labels == vocab.labels and out.frame_period_ms == 40
    student.eval()
    with torch.no_grad():
        reference = student(batch.waveforms, batch.waveform_lengths, chunk_frames=0)
    mask = reference.frame_mask
    torch.testing.assert_close(out.log_probs[mask], reference.log_probs[mask])
    padded = out.log_probs[~mask]
    if len(padded):
        assert (padded[:, 0] == 0).all() and (padded[:, 1:] == LOG_ZERO).all()


def test_self_teacher_needs_a_streaming_student(tiny):
    _, vocab = _batch(tiny)
    config = load_distill_config(SYNTHETIC / "streaming_inplace_kd.yaml")
    with pytest.raises(ValueError, match="streaming student"):
        with_self_teachers(None, config, plan_recipe(config).requests, conformer_ctc("0.5m"), vocab)
