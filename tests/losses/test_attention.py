"""Attention KL: head averaging, per-head comparison, time resampling of maps, padding, gradients."""

import math

import pytest
import torch

from speechdistill.losses import AttentionConfig, AttentionLoss
from tests.losses.reference import STUDENT_VOCAB, make_batch, student_output, teacher_output


def attention_maps(b, heads, t, lengths, seed):
    """Row-softmax maps with padded keys masked out (what a model with a key padding mask returns)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(b, heads, t, t, generator=g) * 2
    keys = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return scores.masked_fill(~keys[:, None, None, :], float("-inf")).softmax(-1).nan_to_num(0.0)


def ref_pool(m, n_out):
    """Adaptive average pooling of a (T, T) list-of-lists map to (n_out, n_out), then rows renormalised."""
    n_in = len(m)
    spans = [(math.floor(i * n_in / n_out), math.ceil((i + 1) * n_in / n_out)) for i in range(n_out)]
    out = []
    for r0, r1 in spans:
        row = []
        for c0, c1 in spans:
            cells = [m[r][c] for r in range(r0, r1) for c in range(c0, c1)]
            row.append(sum(cells) / len(cells))
        out.append([x / sum(row) for x in row])
    return out


def ref_attention(s_att, s_len, t_att, t_len, layers, average=False):
    total, count = 0.0, 0
    for b in range(len(s_len)):
        ls, lt = s_len[b], t_len[b]
        if not ls or not lt:
            continue
        item = 0.0
        for s_layer, t_layer in layers.items():
            p = [ref_pool(h[:lt, :lt].tolist(), ls) for h in t_att[t_layer - 1][b]]
            q = [[[x / sum(row) for x in row] for row in h[:ls, :ls].tolist()] for h in s_att[s_layer][b]]
            if average or len(p) != len(q):
                p = [[[sum(h[i][j] for h in p) / len(p) for j in range(ls)] for i in range(ls)]]
                q = [[[sum(h[i][j] for h in q) / len(q) for j in range(ls)] for i in range(ls)]]
            per_head = [sum(pv * math.log(pv / qv) for pr, qr in zip(ph, qh) for pv, qv in zip(pr, qr) if pv > 0)
                        for ph, qh in zip(p, q)]
            item += sum(per_head) / len(per_head) / len(layers)
        total += item
        count += ls
    return total / max(count, 1)


def _case(s_heads=2, t_heads=4, s_len=(4, 3, 2), t_len=(8, 6, 3), seed=0):
    s_att = {1: attention_maps(3, s_heads, 4, s_len, seed), 2: attention_maps(3, s_heads, 4, s_len, seed + 1)}
    t_att = tuple(attention_maps(3, t_heads, 8, t_len, seed + 10 + i) for i in range(3))
    student = student_output(torch.zeros(3, 4, len(STUDENT_VOCAB)), list(s_len), 40.0, attentions=s_att)
    return student, teacher_output(None, list(t_len), 20.0, attentions=t_att)


@pytest.mark.parametrize("s_heads,t_heads,average", [(2, 4, False), (3, 3, False), (3, 3, True)])
def test_matches_reference_with_resampling_and_heads(s_heads, t_heads, average):
    student, teacher = _case(s_heads, t_heads)
    layers = {1: 2, 2: 3}
    loss = AttentionLoss(AttentionConfig(layers=layers, average_heads=average))(student, teacher, make_batch([None] * 3))
    expected = ref_attention(student.attentions, [4, 3, 2], teacher.attentions, [8, 6, 3], layers, average)
    assert math.isclose(loss.item(), expected, rel_tol=1e-4)


def test_head_averaging_differs_from_per_head_comparison():
    student, teacher = _case(3, 3)
    per_head = AttentionLoss(AttentionConfig(layers={1: 1}))(student, teacher, make_batch([None] * 3))
    averaged = AttentionLoss(AttentionConfig(layers={1: 1}, average_heads=True))(student, teacher, make_batch([None] * 3))
    assert averaged.item() < per_head.item()  # KL is convex: averaging first can only lower it


def test_padded_queries_and_keys_are_ignored_and_empty_items_give_no_nan():
    student, teacher = _case(s_len=(4, 0, 2), t_len=(8, 6, 0))
    loss_fn = AttentionLoss(AttentionConfig(layers={1: 2}))
    base = loss_fn(student, teacher, make_batch([None] * 3))
    s_map, t_map = student.attentions[1], teacher.attentions[1]
    s_map[2, :, 2:, :] = torch.rand_like(s_map[2, :, 2:, :])  # padded query rows
    s_map[2, :, :, 2:] = torch.rand_like(s_map[2, :, :, 2:])  # mass on padded keys (renormalised away)
    t_map[1, :, 6:, :] = torch.rand_like(t_map[1, :, 6:, :])
    t_map[1, :, :, 6:] = torch.rand_like(t_map[1, :, :, 6:])
    again = loss_fn(student, teacher, make_batch([None] * 3))
    assert torch.isfinite(base) and torch.allclose(base, again)


def test_gradients_reach_only_the_student():
    student, teacher = _case()
    for m in student.attentions.values():
        m.requires_grad_()
    leaf = tuple(m.clone().requires_grad_() for m in teacher.attentions)
    teacher = teacher_output(None, teacher.lengths, 20.0, attentions=leaf)
    AttentionLoss(AttentionConfig(layers={1: 2, 2: 3}))(student, teacher, make_batch([None] * 3)).backward()
    assert all(m.grad is None for m in leaf)
    assert all(m.grad.abs().sum() > 0 for m in student.attentions.values())


def test_missing_maps_are_errors():
    student, teacher = _case()
    with pytest.raises(ValueError, match="attentions=True"):
        AttentionLoss(AttentionConfig(layers={1: 1}))(student, teacher_output(None, [8, 6, 3]), make_batch([None] * 3))
    with pytest.raises(KeyError, match="out of range"):
        AttentionLoss(AttentionConfig(layers={1: 4}))(student, teacher, make_batch([None] * 3))
