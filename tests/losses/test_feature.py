"""Feature distillation: layer map, projection, time interpolation, L1 + cosine / MSE, masking, gradients."""

import math

import pytest
import torch

from speechdistill.config import ConfigError
from speechdistill.losses import FeatureConfig, FeatureLoss, LossContext, build_loss
from speechdistill.losses.feature import resample_time
from tests.losses.reference import STUDENT_VOCAB, make_batch, student_output, teacher_output

D_S, D_T = 3, 5


def ref_interp(x, n_out):
    """Linear resampling of (T, D) rows to n_out rows, half-pixel centres (align_corners=False), loops."""
    n_in = x.shape[0]
    rows = []
    for j in range(n_out):
        src = max((j + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = src - i0
        rows.append((1 - lam) * x[i0] + lam * x[i1])
    return torch.stack(rows)


@torch.no_grad()
def ref_feature(loss_fn, s_hidden, s_len, t_hidden, t_len, layers, distance):
    total, count = 0.0, 0
    for b in range(len(s_len)):
        if s_len[b] == 0 or t_len[b] == 0:
            continue
        targets = {t: ref_interp(t_hidden[t][b, : t_len[b]], s_len[b]) for t in layers.values()}
        for j in range(s_len[b]):
            frame = 0.0
            for s_layer, t_layer in layers.items():
                proj = loss_fn.projections[str(s_layer)]
                s = proj.weight @ s_hidden[s_layer][b, j] + proj.bias
                t = targets[t_layer][j]
                if distance == "mse":
                    frame += sum((a - c) ** 2 for a, c in zip(s.tolist(), t.tolist())) / D_T
                else:
                    cos = float(s @ t) / (float(s.norm()) * float(t.norm()))
                    l1 = sum(abs(a - c) for a, c in zip(s.tolist(), t.tolist())) / D_T
                    frame += l1 - math.log(1 / (1 + math.exp(-cos)))
            total += frame / len(layers)
            count += 1
    return total / max(count, 1)


def _case(seed=0, s_len=(4, 2, 3), t_len=(8, 4, 5), t_frames=8):
    torch.manual_seed(seed)
    s_hidden = {2: torch.randn(3, 4, D_S), 4: torch.randn(3, 4, D_S)}
    t_hidden = {3: torch.randn(3, t_frames, D_T), 6: torch.randn(3, t_frames, D_T)}
    student = student_output(torch.zeros(3, 4, len(STUDENT_VOCAB)), list(s_len), 40.0, hidden=s_hidden)
    teacher = teacher_output(None, list(t_len), 20.0, hidden=t_hidden)
    return student, teacher


def test_resample_time_halves_the_rate_by_averaging_pairs_and_respects_lengths():
    x = torch.arange(24, dtype=torch.float32).view(1, 8, 3).repeat(2, 1, 1)
    out = resample_time(x, torch.tensor([8, 5]), torch.tensor([4, 3]), 4)
    assert torch.allclose(out[0], (x[0, 0::2] + x[0, 1::2]) / 2)
    assert torch.allclose(out[1, :3], ref_interp(x[1, :5], 3)) and (out[1, 3] == 0).all()


@pytest.mark.parametrize("distance", ["l1_cosine", "mse"])
def test_matches_reference_with_projection_and_interpolation(distance):
    student, teacher = _case()
    layers = {2: 3, 4: 6}
    loss_fn = FeatureLoss(FeatureConfig(layers=layers, distance=distance), D_S, D_T)
    loss = loss_fn(student, teacher, make_batch([None] * 3))
    expected = ref_feature(loss_fn, student.hidden_states, [4, 2, 3], teacher.hidden_states, [8, 4, 5], layers, distance)
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)


def test_padding_is_ignored_and_empty_items_give_no_nan():
    student, teacher = _case(s_len=(4, 0, 2), t_len=(8, 3, 0))
    loss_fn = FeatureLoss(FeatureConfig(layers={2: 3}), D_S, D_T)
    base = loss_fn(student, teacher, make_batch([None] * 3))
    for h in student.hidden_states.values():
        h[1:, 2:] = 1e3 * torch.randn_like(h[1:, 2:])
    for h in teacher.hidden_states.values():
        h[1:, 3:] = 1e3 * torch.randn_like(h[1:, 3:])
    h = teacher.hidden_states[3]
    h[2] = torch.randn_like(h[2])  # teacher item with no frames: anything
    again = loss_fn(student, teacher, make_batch([None] * 3))
    assert torch.isfinite(base) and torch.allclose(base, again)
    only_first = ref_feature(loss_fn, student.hidden_states, [4, 0, 0], teacher.hidden_states, [8, 3, 0], {2: 3}, "l1")
    assert math.isclose(base.item(), only_first, rel_tol=1e-5)


def test_gradients_reach_the_student_and_projection_not_the_teacher():
    student, teacher = _case()
    for h in student.hidden_states.values():
        h.requires_grad_()
    for h in teacher.hidden_states.values():
        h.requires_grad_()
    loss_fn = FeatureLoss(FeatureConfig(layers={2: 3, 4: 6}), D_S, D_T)
    loss_fn(student, teacher, make_batch([None] * 3)).backward()
    assert all(h.grad is None for h in teacher.hidden_states.values())
    assert all(h.grad.abs().sum() > 0 for h in student.hidden_states.values())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss_fn.parameters())
    assert (student.hidden_states[2].grad[1, 2:] == 0).all()


def test_built_from_yaml_with_dims_from_the_context():
    config, loss_fn = build_loss("feature", {"layers": {"2": 3}, "distance": "mse"},
                                 LossContext(STUDENT_VOCAB, student_dim=D_S, teacher_dims={"w2v": D_T}))
    assert config.layers == {2: 3} and loss_fn.projections["2"].weight.shape == (D_T, D_S)
    with pytest.raises(ConfigError, match="student_dim"):
        build_loss("feature", {"layers": {2: 3}}, LossContext(STUDENT_VOCAB))
    with pytest.raises(ConfigError, match="distance"):
        build_loss("feature", {"layers": {2: 3}, "distance": "l2"}, LossContext(STUDENT_VOCAB, 3, {"w": 5}))
    student, teacher = _case()
    with pytest.raises(KeyError, match="layer 9"):
        FeatureLoss(FeatureConfig(layers={2: 9}), D_S, D_T)(student, teacher, make_batch([None] * 3))
