"""Multi-teacher: fixed weights over heterogeneous teachers, posterior averaging, best teacher per utterance."""

import math

import pytest
import torch

from speechdistill.config import ConfigError
from speechdistill.losses import (
    FrameKLConfig,
    FrameKLLoss,
    LossContext,
    SequenceKDConfig,
    SequenceKDLoss,
    build_loss,
)
from tests.losses.reference import (
    STUDENT_VOCAB,
    UPPER_TEACHER_LABELS,
    UPPER_TO_STUDENT,
    hyps,
    make_batch,
    masked_log_probs,
    ref_frame_kl,
    student_output,
    teacher_output,
)

V = len(STUDENT_VOCAB)
CONTEXT = LossContext(STUDENT_VOCAB)
BATCH = make_batch([None] * 3)
S_LEN, A_LEN, B_LEN = [6, 4, 5], [6, 3, 5], [12, 9, 9]  # teacher b at 20 ms: ceil(9 / 2) = 5 student frames


def _teachers(seed=0, sharp_a=(0.0, 0.0, 0.0), sharp_b=(0.0, 0.0, 0.0)):
    """CTC teacher 'a' (student labels, 40 ms), CTC teacher 'b' (upper-case labels, 20 ms), a Whisper 'w'."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(3, 6, V, generator=g) * (1 + torch.tensor(sharp_a)[:, None, None])
    b = torch.randn(3, 12, len(UPPER_TEACHER_LABELS), generator=g) * (1 + torch.tensor(sharp_b)[:, None, None])
    return {
        "a": teacher_output(masked_log_probs(a, A_LEN), A_LEN, 40.0,
                            nbest=(hyps(("ab", 0.9), ("a", 0.1)), hyps(("c", 0.5), ("cc", 0.5)), hyps(("b", 0.6)))),
        "b": teacher_output(masked_log_probs(b, B_LEN), B_LEN, 20.0, labels=UPPER_TEACHER_LABELS,
                            nbest=(hyps(("ab", 0.7), ("b", 0.3)), hyps(("ca", 0.8), ("c", 0.2)), hyps(("a", 0.6)))),
        "w": teacher_output(None, [15, 15, 15], 20.0, labels=("<|endoftext|>", "ab", "c"),
                            nbest=(hyps(("a b", 0.8), ("ab", 0.2)), hyps(("c a", 1.0)), hyps(("b", 0.5), ("bb", 0.5)))),
    }


def _student(seed=1, grad=False):
    logits = torch.randn(3, 6, V, generator=torch.Generator().manual_seed(seed)) * 2
    return student_output(logits.requires_grad_(grad), S_LEN, 40.0)


def test_fixed_weights_over_a_ctc_and_a_whisper_teacher():
    config, loss_fn = build_loss("multi_teacher", {"mode": "fixed", "teachers": {
        "a": {"weight": 0.7, "losses": {"frame_kl": {"temperature": 2.0}}},
        "w": {"weight": 0.3, "losses": {"sequence_kd": {"nbest": 2, "weight": 0.5}}}}}, CONTEXT)
    teachers, student = _teachers(), _student()
    result = loss_fn.evaluate(student, teachers, BATCH)
    kl = FrameKLLoss(FrameKLConfig(temperature=2.0), vocab=STUDENT_VOCAB)(student, teachers["a"], BATCH)
    seq = SequenceKDLoss(SequenceKDConfig(nbest=2), vocab=STUDENT_VOCAB)(student, teachers["w"], BATCH)
    assert math.isclose(result.value.item(), 0.7 * kl.item() + 0.3 * 0.5 * seq.item(), rel_tol=1e-5)
    assert math.isclose(result.stats["a/frame_kl"], kl.item(), rel_tol=1e-6)
    assert result.stats["w/sequence_kd/kept"] == 3.0 and "w" in result.stats


def test_posterior_average_of_teachers_with_different_labels_and_frame_rates():
    teachers, student = _teachers(), _student()
    _, loss_fn = build_loss("multi_teacher", {"mode": "average", "teachers": {"a": {"weight": 1.0}, "b": {"weight": 3.0}},
                                              "losses": {"frame_kl": {"temperature": 2.0}}}, CONTEXT)
    # reference: map b's labels, average b's frame pairs, mix 1:3 with a, frames both teachers cover
    avg = torch.full((3, 6, V), -1e4)
    avg[..., 0] = 0.0
    lengths = [min(S_LEN[i], A_LEN[i], math.ceil(B_LEN[i] / 2)) for i in range(3)]
    for i in range(3):
        for j in range(lengths[i]):
            p = [0.25 * math.exp(float(x)) for x in teachers["a"].log_probs[i, j]]
            frames = range(2 * j, min(2 * j + 2, B_LEN[i]))
            for f in frames:
                for v, target in enumerate(UPPER_TO_STUDENT):
                    p[target] += 0.75 * math.exp(float(teachers["b"].log_probs[i, f, v])) / len(frames)
            avg[i, j] = torch.tensor([math.log(max(x, 1e-30)) for x in p])
    expected = ref_frame_kl(student.logits, S_LEN, avg, lengths, tau=2.0)
    assert math.isclose(float(loss_fn(student, teachers, BATCH)), expected, rel_tol=1e-4)


def test_best_teacher_per_utterance_by_one_best_posterior():
    teachers, student = _teachers(), _student()
    _, loss_fn = build_loss("multi_teacher", {"mode": "best", "teachers": {"a": {}, "b": {}},
                                              "losses": {"frame_kl": {"temperature": 2.0}}}, CONTEXT)
    result = loss_fn.evaluate(student, teachers, BATCH)
    # 1-best posteriors: a = (0.9, 0.5, 0.6), b = (0.7, 0.8, 0.6) -> a, b, a (ties go to the first listed)
    assert result.stats["chosen/a"] == 2.0 and result.stats["chosen/b"] == 1.0
    kl = FrameKLLoss(FrameKLConfig(temperature=2.0), vocab=STUDENT_VOCAB)
    items = {name: kl.item_losses(student, teachers[name], BATCH) for name in "ab"}
    chosen = ["a", "b", "a"]
    total = sum(float(items[c].total[i]) for i, c in enumerate(chosen))
    count = sum(float(items[c].count[i]) for i, c in enumerate(chosen))
    assert math.isclose(result.value.item(), total / count, rel_tol=1e-5)


def test_best_teacher_by_frame_entropy_and_heterogeneous_sequence_kd():
    teachers, student = _teachers(sharp_a=(9.0, 0.0, 9.0), sharp_b=(0.0, 9.0, 0.0)), _student()
    _, loss_fn = build_loss("multi_teacher", {"mode": "best", "confidence": "frame_entropy",
                                              "teachers": {"a": {}, "b": {}, "w": {}},
                                              "losses": {"sequence_kd": {}}}, CONTEXT)
    assert loss_fn.choose(teachers).tolist() == [0, 1, 0]  # the Whisper teacher has no frame posteriors
    _, by_posterior = build_loss("multi_teacher", {"mode": "best", "teachers": {"a": {}, "w": {}},
                                                   "losses": {"sequence_kd": {}}}, CONTEXT)
    result = by_posterior.evaluate(student, teachers, BATCH)
    assert by_posterior.choose(teachers).tolist() == [0, 1, 0]  # 0.9 > 0.8, 0.5 < 1.0, 0.6 > 0.5
    seq = SequenceKDLoss(vocab=STUDENT_VOCAB)
    items = [seq.item_losses(student, teachers[n], BATCH) for n in ("a", "w")]
    expected = (float(items[0].total[0]) + float(items[1].total[1]) + float(items[0].total[2])) / 3
    assert math.isclose(result.value.item(), expected, rel_tol=1e-5)


def test_gradients_reach_only_the_student_in_every_mode():
    sections = [{"mode": "fixed", "teachers": {"a": {"losses": {"frame_kl": {}}}, "w": {"losses": {"sequence_kd": {}}}}},
                {"mode": "average", "teachers": {"a": {}, "b": {}}, "losses": {"frame_kl": {}}},
                {"mode": "best", "teachers": {"a": {}, "b": {}}, "losses": {"frame_kl": {}}}]
    for section in sections:
        teachers = _teachers()
        leaves = {n: t.log_probs.clone().requires_grad_() for n, t in teachers.items() if t.log_probs is not None}
        teachers = {n: teacher_output(leaves.get(n), t.lengths, t.frame_period_ms, t.labels, nbest=t.nbest)
                    for n, t in teachers.items()}
        student = _student(grad=True)
        _, loss_fn = build_loss("multi_teacher", section, CONTEXT)
        loss = loss_fn(student, teachers, BATCH)
        loss.backward()
        assert torch.isfinite(loss) and student.logits.grad.abs().sum() > 0
        assert all(leaf.grad is None for leaf in leaves.values())


@pytest.mark.parametrize("section,match", [
    ({"mode": "fixed", "teachers": {"a": {}}, "losses": {"frame_kl": {}}}, "fixed mode"),
    ({"mode": "average", "teachers": {"a": {"losses": {"frame_kl": {}}}}}, "average mode"),
    ({"mode": "fixed", "teachers": {"a": {"losses": {"ctc": {}}}}}, "hard loss"),
    ({"mode": "fixed", "teachers": {"a": {"losses": {"frame_kl": {"teacher": "b"}}}}}, "name a teacher"),
    ({"mode": "vote", "teachers": {"a": {}}}, "mode"),
    ({"teachers": {}}, "at least one teacher"),
])
def test_bad_sections_are_config_errors(section, match):
    with pytest.raises(ConfigError, match=match):
        build_loss("multi_teacher", section, CONTEXT)
