"""Several teachers in one run, combined by a loss (never a second training loop).

The loss receives a mapping teacher name -> ``TeacherOutput``. Three ways to combine them (``mode``):

- ``fixed``: sum_i w_i * (sum_j w_ij * loss_ij(student, teacher_i)); each teacher has its own terms,
  so heterogeneous teachers mix freely (frame_kl from a CTC wav2vec2, sequence_kd from a Whisper).
- ``average``: CTC teachers only. Each teacher's posteriors are mapped to the student's labels and frame
  rate, averaged in probability space with weights w_i / sum w, and the shared ``losses`` (frame_kl) are
  applied once to that averaged teacher, on frames every teacher covers.
- ``best``: per utterance, the shared ``losses`` are taken from the most confident teacher only
  (``nbest_posterior``: highest 1-best posterior; ``frame_entropy``: lowest mean CTC frame entropy).
  Every teacher's per-item terms are computed and the chosen ones kept; ties go to the first listed
  teacher. Teacher weights play no part. Confidences of unlike teachers (CTC beam vs Whisper beam) are
  not calibrated against each other: compare like with like.

YAML::

    multi_teacher:
      mode: fixed
      teachers:
        w2v: {weight: 0.7, losses: {frame_kl: {temperature: 2.0}}}
        whisper: {weight: 0.3, losses: {sequence_kd: {nbest: 1, max_wer: 0.1}}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import nn

from ..data.dataset import Batch
from ..students.base import StudentOutput
from ..teachers.base import LOG_ZERO, TeacherOutput
from ..text import Vocabulary
from .base import (
    DistillationLoss,
    ItemLoss,
    ItemwiseLoss,
    LossContext,
    LossResult,
    PickTeacher,
    Teachers,
    WeightedSum,
    check_weight,
    frozen,
    graph_zero,
    lengths_mask,
)
from .frame_kl import TeacherPosteriors

Confidence = Callable[[TeacherOutput], torch.Tensor]
# (loss sections, context, where) -> name -> (weight, loss): how the combined terms are built. The loss
# registry passes its own builder in, so this module never imports the registry that lists it.
TermsBuilder = Callable[[Mapping, LossContext, str], dict[str, tuple[float, DistillationLoss]]]


@dataclass(frozen=True)
class TeacherTermsConfig:
    """One teacher under ``multi_teacher.teachers``: its weight and (fixed mode) its own loss sections."""

    weight: float = 1.0
    losses: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)


@dataclass(frozen=True)
class MultiTeacherConfig:
    """YAML ``losses.multi_teacher`` (see the module docstring).

    teachers: name -> weight (+ losses in fixed mode); names are those of the teacher mapping.
    losses: the shared loss sections for ``average`` and ``best``. confidence: how ``best`` ranks teachers.
    unknown_to_unk: passed to the vocabulary bridges of ``average``.
    """

    teachers: dict[str, TeacherTermsConfig]
    weight: float = 1.0
    mode: Literal["fixed", "average", "best"] = "fixed"
    losses: dict = field(default_factory=dict)
    confidence: Literal["nbest_posterior", "frame_entropy"] = "nbest_posterior"
    unknown_to_unk: bool = False

    def __post_init__(self) -> None:
        check_weight("weight", self.weight)
        if not self.teachers:
            raise ValueError("teachers: name at least one teacher")
        own = [name for name, t in self.teachers.items() if t.losses]
        if self.mode == "fixed" and (self.losses or len(own) != len(self.teachers)):
            raise ValueError("fixed mode: give each teacher its own 'losses' and leave the shared 'losses' empty")
        if self.mode != "fixed" and (not self.losses or own):
            raise ValueError(f"{self.mode} mode: give the shared 'losses' and no per-teacher losses "
                             f"(found some under {', '.join(own) or 'none'})")
        if self.mode == "average" and sum(t.weight for t in self.teachers.values()) <= 0:
            raise ValueError("average mode: teacher weights must not all be 0")


class PosteriorAverage(DistillationLoss):
    """Applies ``terms`` to one teacher whose posteriors are the weighted mean of the named CTC teachers'.

    Each teacher's (B, T_i, V_i) posteriors are mapped to (B, T, V_student) (see ``TeacherPosteriors``);
    the averaged teacher has the student's labels and frame period and covers the frames all teachers cover.
    """

    def __init__(self, weights: Mapping[str, float], terms: DistillationLoss, vocab: Vocabulary,
                 unknown_to_unk: bool = False):
        super().__init__()
        norm = sum(weights.values())
        self.weights = {name: w / norm for name, w in weights.items()}
        self.terms = terms
        self.vocab = vocab
        self.posteriors = TeacherPosteriors(vocab, unknown_to_unk=unknown_to_unk)

    def averaged(self, student: StudentOutput, teacher: Mapping[str, TeacherOutput]) -> TeacherOutput:
        """The weighted-mean teacher, in the student's labels and frames (padded frames a certain blank)."""
        mean, lengths = 0.0, student.lengths.to(student.logits.device)
        for name, weight in self.weights.items():
            probs, covered = self.posteriors(teacher[name], student)
            mean, lengths = mean + weight * probs, torch.minimum(lengths, covered)
        log_probs = mean.clamp_min(1e-30).log().clamp_min(LOG_ZERO)
        blank = torch.full_like(log_probs[0, 0], LOG_ZERO)
        blank[0] = 0.0
        log_probs = torch.where(lengths_mask(lengths, log_probs.shape[1])[..., None], log_probs, blank)
        return TeacherOutput(lengths=lengths, frame_period_ms=student.frame_period_ms, labels=self.vocab.labels,
                             log_probs=log_probs)

    def evaluate(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> LossResult:
        return self.terms.evaluate(student, self.averaged(student, teacher), batch)


def nbest_posterior(teacher: TeacherOutput) -> torch.Tensor:
    """(B,) posterior of each item's 1-best hypothesis; -inf where there is none."""
    if teacher.nbest is None:
        raise ValueError("confidence 'nbest_posterior' needs N-best lists: run every teacher with nbest >= 2")
    return torch.tensor([hyps[0].posterior if hyps else float("-inf") for hyps in teacher.nbest])


def frame_entropy(teacher: TeacherOutput) -> torch.Tensor:
    """(B,) minus the mean CTC frame entropy (nats) over real frames; -inf without posteriors or frames."""
    if teacher.log_probs is None:
        return torch.full((len(teacher.lengths),), float("-inf"))
    log_p = frozen(teacher.log_probs)
    entropy = -(log_p.exp() * log_p).sum(-1)
    valid = lengths_mask(teacher.lengths.to(entropy.device), entropy.shape[1])
    frames = valid.sum(1)
    mean = torch.where(valid, entropy, torch.zeros_like(entropy)).sum(1) / frames.clamp_min(1)
    return torch.where(frames > 0, -mean, torch.full_like(mean, float("-inf"))).cpu()


CONFIDENCES: dict[str, Confidence] = {"nbest_posterior": nbest_posterior, "frame_entropy": frame_entropy}


class BestTeacher(DistillationLoss):
    """Per item, each shared term from the most confident teacher only: sum_j w_j * mean_items(term_j).

    terms: teacher name -> loss name -> per-item loss (one instance per teacher, same names for all);
    weights: loss name -> w_j. ``evaluate`` reports how many items each teacher won (``chosen/<name>``).
    """

    def __init__(self, terms: Mapping[str, Mapping[str, ItemwiseLoss]], weights: Mapping[str, float],
                 confidence: Confidence):
        super().__init__()
        self.terms = nn.ModuleDict({name: nn.ModuleDict(dict(losses)) for name, losses in terms.items()})
        self.weights = dict(weights)
        self.confidence = confidence

    def choose(self, teacher: Mapping[str, TeacherOutput]) -> torch.Tensor:
        """(B,) index (into the configured teacher order) of the most confident teacher per item."""
        return torch.stack([self.confidence(teacher[name]).float() for name in self.terms]).argmax(0)

    def evaluate(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> LossResult:
        choice = self.choose(teacher).to(student.logits.device)
        total, stats = graph_zero(student), {}
        for loss_name, weight in self.weights.items():
            picked_total, picked_count = 0.0, 0.0
            for k, name in enumerate(self.terms):
                items = self.terms[name][loss_name].item_losses(student, teacher[name], batch)
                mine = choice == k
                picked_total = picked_total + torch.where(mine, items.total, torch.zeros_like(items.total))
                picked_count = picked_count + torch.where(mine, items.count, torch.zeros_like(items.count))
            value = ItemLoss(picked_total, picked_count).reduce()
            total = total + weight * value
            stats[loss_name] = float(value.detach())
        stats.update({f"chosen/{name}": float((choice == k).sum()) for k, name in enumerate(self.terms)})
        return LossResult(total, stats)


def build_multi_teacher(config: MultiTeacherConfig, context: LossContext,
                        build_terms: TermsBuilder) -> DistillationLoss:
    """The combiner for ``config.mode`` (a table lookup, so no mode switch runs inside the loop).

    ``build_terms`` builds each loss section the combiner holds (the registry's ``build_terms``, nested).
    """
    return _BUILDERS[config.mode](config, context, build_terms)


def _terms(build_terms: TermsBuilder, section: dict, context: LossContext, teacher: str | None,
           where: str) -> dict[str, tuple[float, DistillationLoss]]:
    return build_terms(section, replace(context, teacher=teacher), where)


def _fixed(config: MultiTeacherConfig, context: LossContext, build_terms: TermsBuilder) -> DistillationLoss:
    return WeightedSum({name: (t.weight, PickTeacher(name, WeightedSum(
        _terms(build_terms, t.losses, context, name, f"multi_teacher.teachers.{name}.losses"))))
        for name, t in config.teachers.items()})


def _average(config: MultiTeacherConfig, context: LossContext, build_terms: TermsBuilder) -> DistillationLoss:
    terms = WeightedSum(_terms(build_terms, config.losses, context, None, "multi_teacher.losses"))
    return PosteriorAverage({name: t.weight for name, t in config.teachers.items()}, terms, context.vocab,
                            config.unknown_to_unk)


def _best(config: MultiTeacherConfig, context: LossContext, build_terms: TermsBuilder) -> DistillationLoss:
    per_teacher, weights = {}, {}
    for name in config.teachers:
        built = _terms(build_terms, config.losses, context, name, "multi_teacher.losses")
        for loss_name, (weight, loss) in built.items():
            if not isinstance(loss, ItemwiseLoss):
                raise ValueError(f"best mode: {loss_name} has no per-item form")
            weights[loss_name] = weight
        per_teacher[name] = {loss_name: loss for loss_name, (_, loss) in built.items()}
    return BestTeacher(per_teacher, weights, CONFIDENCES[config.confidence])


_BUILDERS = {"fixed": _fixed, "average": _average, "best": _best}
