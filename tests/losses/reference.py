"""Small-tensor builders and hand-written references (explicit loops) shared by the loss tests."""

from __future__ import annotations

import math

import torch

from speechdistill.data.dataset import Batch
from speechdistill.decode.beam import Hypothesis
from speechdistill.students.base import StudentOutput
from speechdistill.teachers.base import LOG_ZERO, TeacherOutput
from speechdistill.text import Vocabulary

# A small student vocabulary and an upper-case wav2vec2-style teacher label set that maps onto it.
STUDENT_VOCAB = Vocabulary(("<pad>", "<s>", "</s>", "<unk>", "|", "a", "b", "c"))
UPPER_TEACHER_LABELS = ("<pad>", "<s>", "</s>", "<unk>", "|", "A", "B", "C", "<unused8>")
UPPER_TO_STUDENT = (0, 1, 2, 3, 4, 5, 6, 7, 0)  # <unused8> -> blank


def student_output(logits: torch.Tensor, lengths, period_ms: float = 40.0, hidden=None, attentions=None):
    return StudentOutput(logits=logits, lengths=torch.as_tensor(lengths), frame_period_ms=period_ms,
                         hidden_states=hidden or {}, attentions=attentions or {})


def masked_log_probs(logits: torch.Tensor, lengths) -> torch.Tensor:
    """Teacher-style log-probs: log-softmax on real frames, a certain blank (LOG_ZERO elsewhere) on padding."""
    log_probs = logits.log_softmax(-1)
    padded = torch.arange(logits.shape[1])[None, :] >= torch.as_tensor(lengths)[:, None]
    blank = torch.full((logits.shape[-1],), LOG_ZERO)
    blank[0] = 0.0
    return torch.where(padded[..., None], blank, log_probs)


def teacher_output(log_probs=None, lengths=None, period_ms: float = 40.0, labels=STUDENT_VOCAB.labels,
                   hidden=None, attentions=None, nbest=None) -> TeacherOutput:
    return TeacherOutput(lengths=torch.as_tensor(lengths), frame_period_ms=period_ms, labels=tuple(labels),
                         log_probs=log_probs, hidden_states=hidden or {}, attentions=attentions, nbest=nbest)


def make_batch(labels: list[list[int] | None], texts: list[str | None] | None = None) -> Batch:
    """A Batch with dummy audio; ``None`` labels mark unlabelled items."""
    n = len(labels)
    lists = [x or [] for x in labels]
    width = max(1, max(len(x) for x in lists))
    padded = torch.full((n, width), -100, dtype=torch.long)
    for i, ids in enumerate(lists):
        padded[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return Batch(tuple(f"u{i}" for i in range(n)), torch.zeros(n, 16), torch.full((n,), 16), padded,
                 torch.tensor([len(x) for x in lists]), torch.tensor([x is not None for x in labels]),
                 tuple(texts) if texts is not None else (None,) * n)


def hyps(*pairs: tuple[str, float]) -> tuple[Hypothesis, ...]:
    return tuple(Hypothesis(text, math.log(p), p) for text, p in pairs)


def _logsumexp(values: list[float]) -> float:
    values = [v for v in values if v != -math.inf]
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def ref_ctc_nll(log_probs: torch.Tensor, target: list[int], blank: int = 0) -> float:
    """-log P(target | log_probs (T, V)) by the CTC forward recursion, plain Python loops."""
    lp = log_probs.tolist()
    ext = [blank]
    for label in target:
        ext += [label, blank]
    if not lp:
        return 0.0 if not target else math.inf
    alpha = [-math.inf] * len(ext)
    alpha[0] = lp[0][ext[0]]
    if len(ext) > 1:
        alpha[1] = lp[0][ext[1]]
    for t in range(1, len(lp)):
        new = [-math.inf] * len(ext)
        for s in range(len(ext)):
            options = [alpha[s]]
            if s >= 1:
                options.append(alpha[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                options.append(alpha[s - 2])
            new[s] = _logsumexp(options) + lp[t][ext[s]]
        alpha = new
    return -_logsumexp(alpha[-2:] if len(ext) > 1 else alpha[-1:])


def ref_ctc_per_label(log_probs: torch.Tensor, target: list[int]) -> float:
    """Reference CTC in nats per target label, 0 for impossible alignments (zero_infinity)."""
    nll = ref_ctc_nll(log_probs, target)
    return 0.0 if math.isinf(nll) else nll / max(1, len(target))


def ref_softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def ref_frame_kl(s_logits, s_len, t_log_probs, t_len, k=1, tau=1.0, index=None, threshold=1.0, blank_weight=1.0):
    """Loops: map teacher labels, average k teacher frames (prob space), temper, KL * tau^2, mean over frames."""
    index = index or list(range(t_log_probs.shape[-1]))
    total, count = 0.0, 0
    for b in range(s_logits.shape[0]):
        for j in range(min(s_len[b], math.ceil(t_len[b] / k))):
            frames = range(j * k, min((j + 1) * k, t_len[b]))
            p = [0.0] * s_logits.shape[-1]
            for f in frames:
                for v, target in enumerate(index):
                    p[target] += math.exp(float(t_log_probs[b, f, v])) / len(frames)
            p_t = ref_softmax([max(math.log(max(x, 1e-30)), LOG_ZERO) / tau for x in p])
            q = ref_softmax([float(z) / tau for z in s_logits[b, j]])
            kl = sum(pt * (math.log(pt) - math.log(qv)) for pt, qv in zip(p_t, q) if pt > 0) * tau ** 2
            total += (blank_weight if p[0] > threshold else 1.0) * kl
            count += 1
    return total / max(count, 1)
