"""What every loss shares: the forward contract, per-item results, teacher selection and build context.

A loss is an ``nn.Module`` whose ``forward(student, teacher, batch)`` returns a scalar tensor. ``teacher`` is
one ``TeacherOutput`` or, with several teachers, a mapping name -> ``TeacherOutput``; a single-teacher loss
picks its teacher by the ``teacher`` name in its config (or takes the only one). Teacher tensors are
always detached (and cloned out of inference mode) before use, so gradients reach only the student and
the loss's own parameters (projections).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.dataset import Batch
from ..students.base import StudentOutput
from ..teachers.base import TeacherOutput
from ..text import Vocabulary

Teachers = TeacherOutput | Mapping[str, TeacherOutput]


@dataclass(frozen=True)
class LossResult:
    """A loss value (scalar tensor) and extra figures for logging (e.g. how many items were kept)."""

    value: torch.Tensor
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemLoss:
    """Per-item loss sums ``total`` (B,) and what each item counts for ``count`` (B,): frames, or 1 per item.

    The batch loss is ``total.sum() / max(count.sum(), 1)``: a mean over whatever ``count`` counts, and a
    zero that still has a graph to the student when nothing counts (an all-padding or all-filtered batch).
    """

    total: torch.Tensor
    count: torch.Tensor
    stats: dict[str, float] = field(default_factory=dict)

    def reduce(self) -> torch.Tensor:
        """The batch mean: sum of totals over sum of counts (0 when nothing counts)."""
        return self.total.sum() / self.count.sum().clamp_min(1)


class DistillationLoss(nn.Module):
    """Base of every loss: ``forward`` returns the scalar of ``evaluate``; ``evaluate`` adds logging stats."""

    def evaluate(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> LossResult:
        """The loss value and its logging stats."""
        raise NotImplementedError

    def forward(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> torch.Tensor:
        """The scalar loss (``evaluate(...).value``)."""
        return self.evaluate(student, teacher, batch).value


class ItemwiseLoss(DistillationLoss):
    """A loss that can say what each item contributes (so a multi-teacher loss can pick per item)."""

    def item_losses(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> ItemLoss:
        """Per-item sums and counts whose ``reduce()`` is the loss."""
        raise NotImplementedError

    def evaluate(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> LossResult:
        items = self.item_losses(student, teacher, batch)
        return LossResult(items.reduce(), items.stats)


@dataclass(frozen=True)
class LossContext:
    """What builders need beyond the YAML: facts known once the student and teachers are loaded.

    vocab: the student's vocabulary (labels for vocabulary bridges, spelling of N-best texts).
    student_dim: student hidden size (feature projections). teacher_dims: teacher name -> hidden size.
    teacher: the teacher a nested loss serves (set by ``multi_teacher`` for its per-teacher terms).
    """

    vocab: Vocabulary
    student_dim: int | None = None
    teacher_dims: Mapping[str, int] = field(default_factory=dict)
    teacher: str | None = None


def select_teacher(teacher: Teachers | None, name: str | None) -> TeacherOutput:
    """The ``TeacherOutput`` a single-teacher loss reads: ``teacher`` itself, ``teacher[name]`` or the only one."""
    if isinstance(teacher, TeacherOutput):
        return teacher
    if teacher is None:
        raise ValueError("this loss needs a teacher output, got None")
    if name is not None:
        if name not in teacher:
            raise KeyError(f"no teacher named {name!r}; teachers are {', '.join(map(repr, teacher))}")
        return teacher[name]
    if len(teacher) != 1:
        raise ValueError(f"several teachers ({', '.join(map(repr, teacher))}): name one with the loss's "
                         "'teacher' key, or combine them with multi_teacher")
    return next(iter(teacher.values()))


def frozen(t: torch.Tensor) -> torch.Tensor:
    """A detached float32 copy of a teacher tensor, usable in autograd even when made under inference mode."""
    return t.detach().float().clone()


def lengths_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, num_frames) bool, True where frame index < length."""
    return torch.arange(num_frames, device=lengths.device)[None, :] < lengths[:, None]


def graph_zero(student: StudentOutput) -> torch.Tensor:
    """A float32 scalar 0 attached to the student's graph (an empty sum: no NaN even if logits hold inf)."""
    return student.logits[..., :0].sum().float()


def check_weight(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


class WeightedSum(DistillationLoss):
    """sum_j w_j * loss_j(student, teacher, batch); stats give each term's unweighted value by name.

    terms: name -> (weight, loss). A term's own stats are logged as ``name/stat``.
    """

    def __init__(self, terms: Mapping[str, tuple[float, DistillationLoss]]):
        super().__init__()
        self.weights = {name: float(weight) for name, (weight, _) in terms.items()}
        self.terms = nn.ModuleDict({name: loss for name, (_, loss) in terms.items()})

    def evaluate(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> LossResult:
        total = graph_zero(student)
        stats: dict[str, float] = {}
        for name, loss in self.terms.items():
            result = loss.evaluate(student, teacher, batch)
            total = total + self.weights[name] * result.value
            stats[name] = float(result.value.detach())
            stats.update({f"{name}/{key}": value for key, value in result.stats.items()})
        return LossResult(total, stats)


class PickTeacher(DistillationLoss):
    """Runs ``loss`` on the teacher called ``name`` (one entry of the name -> TeacherOutput mapping)."""

    def __init__(self, name: str, loss: DistillationLoss):
        super().__init__()
        self.name = name
        self.loss = loss

    def evaluate(self, student: StudentOutput, teacher: Teachers | None, batch: Batch) -> LossResult:
        return self.loss.evaluate(student, select_teacher(teacher, self.name), batch)
