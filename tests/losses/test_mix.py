"""The mix: alpha and term weights, unlabelled items, logged terms; and the registry that builds it from YAML."""

import math

import pytest
import torch
import yaml

from speechdistill.config import ConfigError
from speechdistill.losses import (
    LOSSES,
    CTCLoss,
    FeatureConfig,
    FeatureLoss,
    FrameKLConfig,
    FrameKLLoss,
    LossContext,
    MixLoss,
    build_mix,
)
from tests.losses.reference import STUDENT_VOCAB, make_batch, masked_log_probs, student_output, teacher_output

V = len(STUDENT_VOCAB)
CONTEXT = LossContext(STUDENT_VOCAB, student_dim=3, teacher_dims={"w2v": 5})
RECIPE = """
losses:
  mix: {alpha: 0.3}
  ctc: {weight: 2.0}
  frame_kl: {weight: 1.5, temperature: 2.0}
  feature: {weight: 0.5, layers: {1: 2}, distance: mse}
"""


def _inputs(seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    s_len, t_len = [5, 3, 4], [10, 6, 7]
    student = student_output((torch.randn(3, 5, V, generator=g) * 2).requires_grad_(grad), s_len, 40.0,
                             hidden={1: torch.randn(3, 5, 3, generator=g).requires_grad_(grad)})
    teacher = teacher_output(masked_log_probs(torch.randn(3, 10, V, generator=g) * 3, t_len), t_len, 20.0,
                             hidden={2: torch.randn(3, 10, 5, generator=g)})
    return student, teacher


def _build(alpha=0.3):
    section = yaml.safe_load(RECIPE)["losses"]
    section["mix"]["alpha"] = alpha
    return build_mix(section, CONTEXT)


@torch.no_grad()
def _parts(mix, student, teacher, batch):
    ctc = CTCLoss()(student, teacher, batch)
    kl = FrameKLLoss(FrameKLConfig(temperature=2.0))(student, teacher, batch)
    feature = FeatureLoss(FeatureConfig(layers={1: 2}, distance="mse"), 3, 5)
    feature.load_state_dict(mix.distill.terms["feature"].state_dict())
    return float(ctc), kl.item(), float(feature(student, teacher, batch))


def test_total_is_alpha_hard_plus_one_minus_alpha_weighted_kd_and_every_term_is_logged():
    mix = _build()
    student, teacher = _inputs()
    batch = make_batch([[5, 6], [7], None])
    total, terms = mix(student, teacher, batch)
    ctc, kl, feature = _parts(mix, student, teacher, batch)
    distill = 1.5 * kl + 0.5 * feature
    assert math.isclose(total.item(), 0.3 * 2.0 * ctc + 0.7 * distill, rel_tol=1e-5)
    assert set(terms) == {"ctc", "ctc/labelled", "frame_kl", "feature", "hard", "distill", "total"}
    assert all(isinstance(v, float) for v in terms.values())
    assert math.isclose(terms["ctc"], ctc, rel_tol=1e-6) and math.isclose(terms["frame_kl"], kl, rel_tol=1e-6)
    assert math.isclose(terms["hard"], 2.0 * ctc, rel_tol=1e-6) and math.isclose(terms["distill"], distill, rel_tol=1e-6)
    assert math.isclose(terms["total"], total.item(), rel_tol=1e-6) and terms["ctc/labelled"] == 2.0


def test_unlabelled_items_skip_the_hard_term_only():
    mix = _build()
    student, teacher = _inputs()
    a, _ = mix(student, teacher, make_batch([[5, 6], None, None]))
    b, _ = mix(student, teacher, make_batch([[5, 6], None, None], texts=["ab", "zzz", None]))
    only_first = CTCLoss()(student, teacher, make_batch([[5, 6], None, None]))
    assert torch.allclose(a, b)
    ctc, kl, feature = _parts(mix, student, teacher, make_batch([[5, 6], None, None]))
    assert math.isclose(only_first.item(), ctc) and math.isclose(a.item(), 0.6 * ctc + 0.7 * (1.5 * kl + 0.5 * feature),
                                                                 rel_tol=1e-5)


def test_a_batch_of_only_unlabelled_items_keeps_the_kd_coefficient():
    mix = _build()
    student, teacher = _inputs(grad=True)
    batch = make_batch([None, None, None])
    total, terms = mix(student, teacher, batch)
    _, kl, feature = _parts(mix, student, teacher, batch)
    assert terms["ctc"] == 0.0 and terms["hard"] == 0.0
    assert math.isclose(total.item(), 0.7 * (1.5 * kl + 0.5 * feature), rel_tol=1e-5)  # not renormalised
    total.backward()
    assert student.logits.grad.abs().sum() > 0 and student.hidden_states[1].grad.abs().sum() > 0
    assert all(p.grad is not None for p in mix.parameters())


def test_alpha_one_and_zero():
    student, teacher = _inputs()
    batch = make_batch([[5, 6], [7], [5]])
    hard_only, terms = _build(alpha=1.0)(student, teacher, batch)
    assert math.isclose(hard_only.item(), terms["hard"], rel_tol=1e-6)
    kd_only, terms = _build(alpha=0.0)(student, teacher, batch)
    assert math.isclose(kd_only.item(), terms["distill"], rel_tol=1e-6) and "ctc" in terms


def test_registry_builds_every_loss_and_reports_bad_sections():
    assert set(LOSSES) == {"ctc", "frame_kl", "sequence_kd", "feature", "attention", "multi_teacher"}
    mix = _build()
    assert isinstance(mix, MixLoss) and set(mix.hard.terms) == {"ctc"} and set(mix.distill.terms) == {"frame_kl", "feature"}
    assert sum(p.numel() for p in mix.parameters()) == 3 * 5 + 5  # the feature projection
    with pytest.raises(ConfigError, match="unknown loss 'frame_kd'"):
        build_mix({"frame_kd": {}}, CONTEXT)
    with pytest.raises(ConfigError, match=r"losses\.frame_kl: unknown key 'temp'"):
        build_mix({"mix": {"alpha": 0.0}, "frame_kl": {"temp": 2.0}}, CONTEXT)
    with pytest.raises(ConfigError, match="no hard loss"):
        build_mix({"mix": {"alpha": 0.5}, "frame_kl": {}}, CONTEXT)
    with pytest.raises(ConfigError, match="no distillation loss"):
        build_mix({"ctc": {}}, CONTEXT)
    with pytest.raises(ConfigError, match="alpha"):
        build_mix({"mix": {"alpha": 1.5}, "ctc": {}}, CONTEXT)
    with pytest.raises(ConfigError, match="temperature"):
        build_mix({"mix": {"alpha": 0.0}, "frame_kl": {"temperature": -1}}, CONTEXT)
    assert build_mix({"mix": {"alpha": 1.0}, "ctc": {}}, CONTEXT).alpha == 1.0
