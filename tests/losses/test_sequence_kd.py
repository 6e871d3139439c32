"""Sequence-level KD: N-best posterior weighting, 1-best filters, kept counts, CTC and Whisper teachers."""

import math

import pytest
import torch

from speechdistill.losses import SequenceKDConfig, SequenceKDLoss
from tests.losses.reference import (
    STUDENT_VOCAB,
    hyps,
    make_batch,
    masked_log_probs,
    ref_ctc_per_label,
    student_output,
    teacher_output,
)

WHISPER_LABELS = ("<|endoftext|>", "a", "b", "ab", "ca")  # stands in for a BPE label set


def _whisper_teacher(nbest, n):
    return teacher_output(None, [n] * len(nbest), 20.0, labels=WHISPER_LABELS, nbest=tuple(nbest))


def _reference(s_logits, s_len, nbest, kept, n=None):
    totals = []
    for i, item in enumerate(nbest):
        if not kept[i]:
            continue
        used = item[:n]
        mass = sum(h.posterior for h in used)
        lp = s_logits[i, : s_len[i]].log_softmax(-1)
        totals.append(sum(h.posterior / mass * ref_ctc_per_label(lp, STUDENT_VOCAB.encode(h.text)) for h in used))
    return sum(totals) / max(1, len(totals))


def _logits(seed=0, b=3, t=8):
    torch.manual_seed(seed)
    return torch.randn(b, t, len(STUDENT_VOCAB)) * 2


NBEST = (hyps(("ab c", 0.6), ("a bc", 0.3), ("abc", 0.1)), hyps(("ca", 0.7), ("cab", 0.3)), hyps(("b", 1.0)))


def test_nbest_weighting_equals_manual_weighted_ctc():
    s, s_len = _logits(), [8, 6, 5]
    loss_fn = SequenceKDLoss(vocab=STUDENT_VOCAB)
    result = loss_fn.evaluate(student_output(s, s_len), _whisper_teacher(NBEST, 10), make_batch([None] * 3))
    assert math.isclose(result.value.item(), _reference(s, s_len, NBEST, [True] * 3), rel_tol=1e-5)
    assert result.stats == {"kept": 3.0, "items": 3.0}
    two = SequenceKDLoss(SequenceKDConfig(nbest=2), vocab=STUDENT_VOCAB)
    value = two(student_output(s, s_len), _whisper_teacher(NBEST, 10), make_batch([None] * 3))
    assert math.isclose(value.item(), _reference(s, s_len, NBEST, [True] * 3, n=2), rel_tol=1e-5)


def test_ctc_teacher_nbest_works_the_same_and_padding_is_ignored():
    s, s_len = _logits(seed=1), [8, 4, 5]
    t_lp = masked_log_probs(torch.randn(3, 8, len(STUDENT_VOCAB)), s_len)
    teacher = teacher_output(t_lp, s_len, 40.0, nbest=NBEST)
    loss_fn = SequenceKDLoss(vocab=STUDENT_VOCAB)
    base = loss_fn(student_output(s, s_len), teacher, make_batch([None] * 3))
    noisy = s.clone()
    noisy[1, 4:] = 100 * torch.randn(4, len(STUDENT_VOCAB))
    assert torch.allclose(base, loss_fn(student_output(noisy, s_len), teacher, make_batch([None] * 3)))
    assert math.isclose(base.item(), _reference(s, s_len, NBEST, [True] * 3), rel_tol=1e-5)


def test_one_best_filter_by_posterior_and_wer_on_labelled_items_only():
    s, s_len = _logits(seed=2, b=4), [8, 8, 8, 8]
    nbest = (hyps(("ab c", 0.9), ("abc", 0.1)),    # confident, matches its reference: kept
             hyps(("ab", 0.4), ("ba", 0.35), ("b", 0.25)),  # unsure: dropped
             hyps(("c c", 0.95), ("cc", 0.05)),   # confident but WER 1.0 vs reference "a b": dropped
             hyps(("b a", 0.8), ("ba", 0.2)))     # unlabelled: no WER check, kept
    batch = make_batch([[5, 6], [5], [5, 4, 6], None], texts=["ab c", "ab", "a b", None])
    loss_fn = SequenceKDLoss(SequenceKDConfig(nbest=1, min_posterior=0.5, max_wer=0.5), vocab=STUDENT_VOCAB)
    teacher = _whisper_teacher(nbest, 10)
    assert loss_fn.kept(teacher, batch) == [True, False, False, True]
    result = loss_fn.evaluate(student_output(s, s_len), teacher, batch)
    assert result.stats["kept"] == 2.0
    expected = _reference(s, s_len, nbest, [True, False, False, True], n=1)
    assert math.isclose(result.value.item(), expected, rel_tol=1e-5)
    # 1-best mode: weight 1 on the first hypothesis, whatever its posterior
    lp = s[0].log_softmax(-1)
    assert math.isclose(_reference(s, s_len, nbest, [True, False, False, False], n=1),
                        ref_ctc_per_label(lp, STUDENT_VOCAB.encode("ab c")), rel_tol=1e-9)


def test_items_without_hypotheses_or_all_filtered_give_zero_with_a_graph():
    s = _logits(seed=3).requires_grad_()
    nbest = ((), hyps(("a", 0.2), ("b", 0.8)), ())
    loss_fn = SequenceKDLoss(SequenceKDConfig(min_posterior=0.5), vocab=STUDENT_VOCAB)
    result = loss_fn.evaluate(student_output(s, [8, 8, 0]), _whisper_teacher(nbest, 10), make_batch([None] * 3))
    assert result.value.item() == 0.0 and result.stats["kept"] == 0.0
    result.value.backward()
    assert s.grad is not None and (s.grad == 0).all()


def test_empty_student_item_gives_no_nan_and_gradients_reach_the_student():
    s = _logits(seed=4).requires_grad_()
    loss = SequenceKDLoss(vocab=STUDENT_VOCAB)(student_output(s, [8, 0, 6]), _whisper_teacher(NBEST, 10),
                                               make_batch([None] * 3))
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(s.grad).all() and s.grad[0].abs().sum() > 0 and (s.grad[1] == 0).all()


def test_missing_nbest_is_an_error():
    with pytest.raises(ValueError, match="nbest"):
        SequenceKDLoss(vocab=STUDENT_VOCAB)(student_output(_logits(), [8, 8, 8]), teacher_output(None, [8] * 3),
                                            make_batch([None] * 3))
