"""Sequence-level distillation: the teacher's N-best transcripts as CTC targets for the student.

Works for any teacher that fills ``TeacherOutput.nbest`` (CTC beam search or Whisper beam search): each
hypothesis text (spoken form) is spelled with the student vocabulary and scored with CTC. With
``nbest: 1`` this is pseudo-labelling as in distil-whisper, where items are dropped when the teacher is
unsure (1-best posterior below ``min_posterior``) or, for labelled items, when its 1-best disagrees with
the reference (WER above ``max_wer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.dataset import Batch
from ..decode.beam import Hypothesis
from ..eval.metrics import wer
from ..students.base import StudentOutput
from ..text import Vocabulary, normalize_text
from .base import ItemLoss, ItemwiseLoss, LossContext, Teachers, check_weight, graph_zero, select_teacher
from .ctc import ctc_per_item, pad_targets


@dataclass(frozen=True)
class SequenceKDConfig:
    """YAML ``losses.sequence_kd``.

    nbest: hypotheses used per item, best first (None: all the teacher returned; 1: 1-best pseudo-labels).
    min_posterior: drop an item whose 1-best posterior (within the teacher's N-best list) is below this.
        A teacher asked for a single hypothesis always reports posterior 1, so ask it for N >= 2 to filter.
    max_wer: drop a labelled item whose 1-best WER (fraction, after normalisation) against its
        transcript exceeds this; None keeps them all. Unlabelled items are never WER-filtered.
    teacher: which teacher to read when there are several.
    """

    weight: float = 1.0
    teacher: str | None = None
    nbest: int | None = None
    min_posterior: float = 0.0
    max_wer: float | None = None

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)
        if self.nbest is not None and self.nbest < 1:
            raise ValueError(f"nbest must be >= 1 (or null for all), got {self.nbest}")
        if not 0.0 <= self.min_posterior <= 1.0:
            raise ValueError(f"min_posterior is a probability in [0, 1], got {self.min_posterior}")
        if self.max_wer is not None and self.max_wer < 0:
            raise ValueError(f"max_wer must be >= 0, got {self.max_wer}")


def utterance_wer(reference: str, hypothesis: str) -> float:
    """WER of one utterance after normalisation; an empty reference gives 0 if the hypothesis is empty, else inf."""
    if not normalize_text(reference):
        return 0.0 if not normalize_text(hypothesis) else float("inf")
    return wer([reference], [hypothesis])


class SequenceKDLoss(ItemwiseLoss):
    """sum_n p_n * CTC(student, y_n) per kept item, averaged over kept items.

    student.logits: (B, T, V); teacher.nbest: per item a tuple of ``Hypothesis`` best first. y_n is
    ``vocab.encode(text)``; p_n is the hypothesis posterior renormalised over the ``nbest`` used (so 1-best
    has weight 1). CTC is in nats per target label (see ``ctc_per_item``). Items with no hypothesis or
    filtered out add nothing; the mean is over kept items, and a batch with none kept gives 0 with a graph.
    ``evaluate`` reports ``kept`` (items used) and ``items``.
    """

    def __init__(self, config: SequenceKDConfig | None = None, *, vocab: Vocabulary):
        super().__init__()
        self.config = config or SequenceKDConfig()
        self.vocab = vocab

    def kept(self, teacher: Teachers, batch: Batch) -> list[bool]:
        """Per item, whether its N-best list passes the filters (and is not empty)."""
        lists = self._nbest(select_teacher(teacher, self.config.teacher))
        labelled = batch.labelled.tolist()
        return [self._keep(hyps, labelled[i], batch.texts[i]) for i, hyps in enumerate(lists)]

    def _nbest(self, teacher) -> tuple[tuple[Hypothesis, ...], ...]:
        if teacher.nbest is None:
            raise ValueError("sequence_kd needs N-best lists: run the teacher with nbest >= 1")
        return teacher.nbest

    def _keep(self, hyps: tuple[Hypothesis, ...], labelled: bool, reference: str | None) -> bool:
        c = self.config
        if not hyps or hyps[0].posterior < c.min_posterior:
            return False
        if c.max_wer is None or not labelled or reference is None:
            return True
        return utterance_wer(reference, hyps[0].text) <= c.max_wer

    def item_losses(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> ItemLoss:
        lists = self._nbest(select_teacher(teacher, self.config.teacher))
        if len(lists) != student.logits.shape[0]:
            raise ValueError(f"{len(lists)} N-best lists for a batch of {student.logits.shape[0]}")
        keep = self.kept(teacher, batch)
        rows, targets, weights = [], [], []
        for i, hyps in enumerate(lists):
            if not keep[i]:
                continue
            used = hyps[: self.config.nbest]
            mass = sum(h.posterior for h in used)
            for h in used:
                rows.append(i)
                targets.append(self.vocab.encode(h.text))
                weights.append(h.posterior / mass if mass > 0 else 1.0 / len(used))
        device = student.logits.device
        total = student.logits.new_zeros(len(lists), dtype=torch.float32) + graph_zero(student)
        if rows:
            index = torch.tensor(rows, device=device)
            padded, lengths = pad_targets(targets, device)
            nll = ctc_per_item(student.log_probs[index], student.lengths.to(device)[index], padded, lengths)
            total = total.index_add(0, index, nll * torch.tensor(weights, device=device))
        count = torch.tensor(keep, dtype=torch.float32, device=device)
        return ItemLoss(total, count, {"kept": float(sum(keep)), "items": float(len(keep))})

    @classmethod
    def build(cls, config: SequenceKDConfig, context: LossContext) -> SequenceKDLoss:
        """The loss for a ``losses.sequence_kd`` section; hypotheses are spelled with ``context.vocab``."""
        return cls(config, vocab=context.vocab)
