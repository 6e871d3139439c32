"""Frame-level KL: reference loops, temperature, padding, frame-rate and vocabulary bridging, gradients."""

import math

import pytest
import torch

from speechdistill.losses import FrameKLConfig, FrameKLLoss, pool_probs
from speechdistill.teachers import build_vocab_bridge
from tests.losses.reference import (
    STUDENT_VOCAB,
    UPPER_TEACHER_LABELS,
    UPPER_TO_STUDENT,
    make_batch,
    masked_log_probs,
    ref_frame_kl,
    student_output,
    teacher_output,
)

V = len(STUDENT_VOCAB)


def _case(seed=0, b=3, t_student=5, k=1, v_teacher=V, s_len=(5, 3, 4), t_len=None):
    torch.manual_seed(seed)
    t_len = list(t_len or [n * k for n in s_len])
    s_logits = torch.randn(b, t_student, V) * 2
    t_lp = masked_log_probs(torch.randn(b, t_student * k, v_teacher) * 3, t_len)
    return s_logits, list(s_len), t_lp, t_len


@pytest.mark.parametrize("tau", [1.0, 2.0, 4.0])
def test_matches_reference_with_temperature(tau):
    s, s_len, t, t_len = _case()
    loss = FrameKLLoss(FrameKLConfig(temperature=tau))(student_output(s, s_len), teacher_output(t, t_len), make_batch([None] * 3))
    assert math.isclose(loss.item(), ref_frame_kl(s, s_len, t, t_len, tau=tau), rel_tol=1e-4)


def test_tau_squared_factor():
    s, s_len, t, t_len = _case(seed=3)
    tau = 3.0
    loss = FrameKLLoss(FrameKLConfig(temperature=tau))(student_output(s, s_len), teacher_output(t, t_len), make_batch([None] * 3))
    # the same KL without the factor: softened distributions at tau, compared at temperature 1
    soft_t = masked_log_probs(t / tau, t_len)
    plain = FrameKLLoss()(student_output(s / tau, s_len), teacher_output(soft_t, t_len), make_batch([None] * 3))
    assert math.isclose(loss.item(), tau ** 2 * plain.item(), rel_tol=1e-4)
    same = FrameKLLoss(FrameKLConfig(temperature=tau))(student_output(t.clone(), t_len), teacher_output(t, t_len),
                                                       make_batch([None] * 3))
    assert float(same) < 1e-5


def test_padded_frames_do_not_change_the_loss_and_empty_items_give_no_nan():
    s, _, t, _ = _case(seed=1)
    s_len, t_len = [5, 0, 2], [5, 0, 2]
    t = masked_log_probs(t, t_len)
    loss_fn = FrameKLLoss(FrameKLConfig(temperature=2.0))
    base = loss_fn(student_output(s, s_len), teacher_output(t, t_len), make_batch([None] * 3))
    s2, t2 = s.clone(), t.clone()
    s2[1:, 2:] = 100 * torch.randn_like(s2[1:, 2:])
    t2[1:, 2:] = torch.randn_like(t2[1:, 2:]).log_softmax(-1)
    again = loss_fn(student_output(s2, s_len), teacher_output(t2, t_len), make_batch([None] * 3))
    assert torch.isfinite(base) and torch.allclose(base, again)
    assert math.isclose(base.item(), ref_frame_kl(s, s_len, t, t_len, tau=2.0), rel_tol=1e-4)
    nothing = loss_fn(student_output(s, [0, 0, 0]), teacher_output(t, [0, 0, 0]), make_batch([None] * 3))
    assert float(nothing) == 0.0


def test_gradients_reach_only_the_student_even_from_inference_mode_teachers():
    s, s_len, t, t_len = _case(seed=2)
    s = s.requires_grad_()
    t_leaf = t.clone().requires_grad_()
    FrameKLLoss(FrameKLConfig(temperature=2.0))(student_output(s, s_len), teacher_output(t_leaf, t_len),
                                                make_batch([None] * 3)).backward()
    assert t_leaf.grad is None
    assert s.grad.abs().sum() > 0 and (s.grad[1, 3:] == 0).all()  # padded student frames get nothing
    with torch.inference_mode():
        t_inf = t.clone()
    loss = FrameKLLoss()(student_output(s, s_len), teacher_output(t_inf, t_len), make_batch([None] * 3))
    loss.backward()


def test_pool_probs_averages_real_frames_only():
    probs = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.9, 0.1], [9.0, 9.0]]])
    pooled, lengths = pool_probs(probs, torch.tensor([3]), 2)  # frames 3 and 4 are padding
    assert lengths.tolist() == [2]
    assert torch.allclose(pooled[0, :2], torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    assert (pooled[0, 2] == 0).all()


@pytest.mark.parametrize("t_len", [[10, 5, 7], [10, 6, 8]])
def test_student_at_40ms_teacher_at_20ms(t_len):
    s, s_len, t, _ = _case(seed=4, k=2, t_len=t_len)
    t = masked_log_probs(t, t_len)
    loss = FrameKLLoss(FrameKLConfig(temperature=2.0))(student_output(s, s_len, 40.0),
                                                       teacher_output(t, t_len, 20.0), make_batch([None] * 3))
    assert math.isclose(loss.item(), ref_frame_kl(s, s_len, t, t_len, k=2, tau=2.0), rel_tol=1e-4)


def test_student_faster_than_teacher_repeats_teacher_frames():
    s, s_len, t, t_len = _case(seed=5, s_len=(4, 2, 3))
    t_half, t_half_len = t[:, ::2].clone(), [2, 1, 2]
    loss = FrameKLLoss()(student_output(s[:, :4], s_len, 20.0), teacher_output(t_half, t_half_len, 40.0),
                         make_batch([None] * 3))
    t_rep = masked_log_probs(t_half.repeat_interleave(2, 1).exp().log(), [4, 2, 4])
    assert math.isclose(loss.item(), ref_frame_kl(s[:, :4], s_len, t_rep, [4, 2, 4]), rel_tol=1e-4)
    with pytest.raises(ValueError, match="non-integer"):
        FrameKLLoss()(student_output(s, s_len, 40.0), teacher_output(t, t_len, 30.0), make_batch([None] * 3))


def test_upper_case_teacher_labels_are_mapped_into_the_student_vocabulary():
    s, s_len, t, t_len = _case(seed=6, k=2, v_teacher=len(UPPER_TEACHER_LABELS), t_len=[10, 5, 8])
    t = masked_log_probs(t, t_len)
    expected = ref_frame_kl(s, s_len, t, t_len, k=2, tau=2.0, index=list(UPPER_TO_STUDENT))
    student, teacher = student_output(s, s_len, 40.0), teacher_output(t, t_len, 20.0, labels=UPPER_TEACHER_LABELS)
    config = FrameKLConfig(temperature=2.0)
    for loss_fn in (FrameKLLoss(config, vocab=STUDENT_VOCAB),
                    FrameKLLoss(config, bridge=UPPER_TO_STUDENT),
                    FrameKLLoss(config, bridge=build_vocab_bridge(UPPER_TEACHER_LABELS, STUDENT_VOCAB))):
        assert math.isclose(float(loss_fn(student, teacher, make_batch([None] * 3))), expected, rel_tol=1e-4)
    with pytest.raises(ValueError, match="labels"):
        FrameKLLoss(config)(student, teacher, make_batch([None] * 3))


def test_blank_dominated_frames_are_down_weighted():
    s, s_len, t, t_len = _case(seed=7)
    t[:, ::2, 0] += 8.0  # every other frame mostly blank
    t = masked_log_probs(t.log_softmax(-1), t_len)
    config = FrameKLConfig(temperature=2.0, blank_threshold=0.9, blank_weight=0.1)
    loss = FrameKLLoss(config)(student_output(s, s_len), teacher_output(t, t_len), make_batch([None] * 3))
    expected = ref_frame_kl(s, s_len, t, t_len, tau=2.0, threshold=0.9, blank_weight=0.1)
    assert math.isclose(loss.item(), expected, rel_tol=1e-4)
    assert expected < ref_frame_kl(s, s_len, t, t_len, tau=2.0)


def test_teacher_without_posteriors_and_bad_config_are_refused():
    s, s_len, _, t_len = _case()
    with pytest.raises(ValueError, match="sequence_kd"):
        FrameKLLoss()(student_output(s, s_len), teacher_output(None, t_len), make_batch([None] * 3))
    with pytest.raises(ValueError, match="temperature"):
        FrameKLConfig(temperature=0.0)
