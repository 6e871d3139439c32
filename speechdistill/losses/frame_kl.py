"""Frame-level KL(teacher || student) between CTC posteriors, across vocabularies and frame rates.

The teacher's posteriors are brought into the student's label set and frame rate before any temperature:

1. vocabulary: probabilities of teacher labels that share a student label are summed (a ``VocabBridge``,
   an index map teacher id -> student id, or a bridge built from ``teacher.labels`` and the student vocab);
2. frame rate: when the student's frame period is k times the teacher's (40 ms vs 20 ms: k = 2), each
   student frame gets the *average of the probabilities* (prob space, not log space) of the k teacher
   frames it covers. The mean of distributions is a distribution and keeps mass a single teacher frame
   puts on a short label; averaging log-probabilities would be a renormalised geometric mean that
   sharpens towards blank. A final partial window (teacher length not divisible by k) averages only its
   real frames, so pooled length = ceil(teacher length / k). A student faster than its teacher by an
   integer factor repeats each teacher frame.
3. temperature: both sides are softened in the student's label space, p = softmax(log p_teacher / tau),
   q = softmax(logits / tau), and the KL is multiplied by tau**2 (Hinton et al.) so gradients keep their scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..data.dataset import Batch
from ..students.base import StudentOutput
from ..teachers.base import LOG_ZERO, TeacherOutput
from ..teachers.vocab_bridge import VocabBridge, build_vocab_bridge
from ..text import Vocabulary
from .base import (
    ItemLoss,
    ItemwiseLoss,
    LossContext,
    Teachers,
    check_weight,
    frozen,
    lengths_mask,
    select_teacher,
)

BLANK_ID = 0


@dataclass(frozen=True)
class FrameKLConfig:
    """YAML ``losses.frame_kl``.

    temperature: tau (> 0). blank_threshold / blank_weight: student frames whose (mapped, pooled, tau = 1)
    teacher blank probability exceeds the threshold count with ``blank_weight`` (defaults change nothing).
    teacher: which teacher to read when there are several. unknown_to_unk: teacher characters the student
    cannot spell count as ``<unk>`` instead of being an error (see ``build_vocab_bridge``).
    """

    weight: float = 1.0
    teacher: str | None = None
    temperature: float = 1.0
    blank_threshold: float = 1.0
    blank_weight: float = 1.0
    unknown_to_unk: bool = False

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)
        check_weight("blank_weight", self.blank_weight)
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.blank_threshold <= 1.0:
            raise ValueError(f"blank_threshold is a probability in [0, 1], got {self.blank_threshold}")


def frame_ratio(student_period_ms: float, teacher_period_ms: float) -> tuple[int, int]:
    """(pool, repeat): teacher frames averaged per student frame, or student frames per teacher frame.

    Exactly one of them is above 1 unless the rates match; ValueError when the periods are not integer multiples.
    """
    ratio = student_period_ms / teacher_period_ms
    k = round(ratio if ratio >= 1 else 1 / ratio)
    if math.isclose(ratio if ratio >= 1 else 1 / ratio, k, rel_tol=1e-6):
        return (k, 1) if ratio >= 1 else (1, k)
    raise ValueError(f"student frames of {student_period_ms:g} ms and teacher frames of {teacher_period_ms:g} ms "
                     "differ by a non-integer factor; frame-level distillation needs an integer ratio")


def pool_probs(probs: torch.Tensor, lengths: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Average (B, T, V) probabilities over windows of ``k`` frames, counting only frames < ``lengths``.

    Returns (B, ceil(T / k), V) and the pooled lengths ceil(lengths / k); empty windows are all zero.
    """
    b, t, v = probs.shape
    probs = probs * lengths_mask(lengths, t)[..., None]
    windows = -(-t // k)
    padded = probs.new_zeros(b, windows * k, v)
    padded[:, :t] = probs
    summed = padded.view(b, windows, k, v).sum(2)
    starts = torch.arange(windows, device=lengths.device)[None, :] * k
    counts = (lengths[:, None] - starts).clamp(0, k)
    return summed / counts.clamp_min(1)[..., None], -(-lengths // k)


def fit_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Crop or zero-pad the time axis (dim 1) of ``x`` to ``num_frames``."""
    if x.shape[1] >= num_frames:
        return x[:, :num_frames]
    pad = x.new_zeros(x.shape[0], num_frames - x.shape[1], *x.shape[2:])
    return torch.cat([x, pad], 1)


class TeacherPosteriors:
    """A CTC teacher's posteriors in the student's labels and at the student's frame rate.

    bridge: a ``VocabBridge``, an index map (teacher id -> student id), or None to build one from
    ``teacher.labels`` and ``vocab`` (none needed when the labels already match).
    """

    def __init__(self, vocab: Vocabulary | None = None, bridge: VocabBridge | Sequence[int] | None = None,
                 unknown_to_unk: bool = False):
        self.vocab = vocab
        self.index = tuple(bridge.index if isinstance(bridge, VocabBridge) else bridge) if bridge is not None else None
        self.unknown_to_unk = unknown_to_unk
        self._built: dict[tuple[str, ...], tuple[int, ...] | None] = {}

    def _index_for(self, labels: tuple[str, ...]) -> tuple[int, ...] | None:
        if self.index is not None:
            return self.index
        if self.vocab is None or labels == self.vocab.labels:
            return None
        if labels not in self._built:
            self._built[labels] = build_vocab_bridge(labels, self.vocab, unknown_to_unk=self.unknown_to_unk).index
        return self._built[labels]

    def map_vocab(self, teacher: TeacherOutput, num_labels: int) -> torch.Tensor:
        """(B, T_teacher, num_labels) probabilities; labels sharing a student label are summed."""
        if teacher.log_probs is None:
            raise ValueError("frame-level distillation needs a CTC teacher (log_probs); this teacher has none "
                             "(a Whisper teacher distils through sequence_kd)")
        probs = frozen(teacher.log_probs).exp()
        index = self._index_for(tuple(teacher.labels))
        if index is None:
            if probs.shape[-1] != num_labels:
                raise ValueError(f"teacher has {probs.shape[-1]} labels, student {num_labels}: give a vocabulary "
                                 "bridge (or the student vocabulary) to map them")
            return probs
        if len(index) != probs.shape[-1]:
            raise ValueError(f"vocabulary map covers {len(index)} teacher labels, teacher has {probs.shape[-1]}")
        matrix = probs.new_zeros(len(index), num_labels)
        matrix[torch.arange(len(index), device=probs.device), torch.tensor(index, device=probs.device)] = 1.0
        return probs @ matrix

    def __call__(self, teacher: TeacherOutput, student: StudentOutput) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T_student, V_student) teacher probabilities and (B,) frames they cover (zeros past that)."""
        probs = self.map_vocab(teacher, student.logits.shape[-1]).to(student.logits.device)
        lengths = teacher.lengths.to(probs.device)
        pool, repeat = frame_ratio(student.frame_period_ms, teacher.frame_period_ms)
        probs, lengths = pool_probs(probs, lengths, pool)
        probs, lengths = probs.repeat_interleave(repeat, 1), lengths * repeat
        probs = probs * lengths_mask(lengths, probs.shape[1])[..., None]
        return fit_frames(probs, student.logits.shape[1]), torch.minimum(lengths, student.lengths.to(probs.device))


def tempered_kl(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, T) tau**2 * KL(softmax(log p / tau) || softmax(logits / tau)) per frame, in nats."""
    log_p = (teacher_probs.clamp_min(1e-30).log().clamp_min(LOG_ZERO) / temperature).log_softmax(-1)
    log_q = (student_logits.float() / temperature).log_softmax(-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1) * temperature ** 2


class FrameKLLoss(ItemwiseLoss):
    """tau**2 * KL(teacher || student) per student frame, averaged over frames valid on both sides.

    student.logits: (B, T, V_student); teacher.log_probs: (B, T_teacher, V_teacher) with
    T_teacher ~ T * (student period / teacher period). Frames at or beyond either side's length are
    ignored (the teacher length counted after pooling); frames with teacher blank probability above
    ``blank_threshold`` are multiplied by ``blank_weight`` but still count in the mean's denominator, so
    down-weighting blanks lowers their share without inflating the other frames. Units: nats per frame.
    """

    def __init__(self, config: FrameKLConfig | None = None, *, vocab: Vocabulary | None = None,
                 bridge: VocabBridge | Sequence[int] | None = None):
        super().__init__()
        self.config = config or FrameKLConfig()
        self.posteriors = TeacherPosteriors(vocab, bridge, self.config.unknown_to_unk)

    def item_losses(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> ItemLoss:
        probs, lengths = self.posteriors(select_teacher(teacher, self.config.teacher), student)
        return self.items_from_probs(student, probs, lengths)

    def items_from_probs(self, student: StudentOutput, probs: torch.Tensor, lengths: torch.Tensor) -> ItemLoss:
        """Per-item sums for teacher probabilities already at the student's labels and frames."""
        c = self.config
        kl = tempered_kl(student.logits, probs, c.temperature)
        weight = torch.where(probs[..., BLANK_ID] > c.blank_threshold, c.blank_weight, 1.0)
        valid = lengths_mask(lengths, kl.shape[1])
        kl = torch.where(valid, kl * weight, torch.zeros_like(kl))
        return ItemLoss(kl.sum(1), valid.sum(1).float())

    @classmethod
    def build(cls, config: FrameKLConfig, context: LossContext) -> FrameKLLoss:
        """The loss for a ``losses.frame_kl`` section; bridges are built from teacher labels and ``context.vocab``."""
        return cls(config, vocab=context.vocab)
