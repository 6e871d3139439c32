"""The student and its loss as one ``nn.Module``, the distillation step, and dev WER of the student.

``DistillModule`` holds the student and the ``MixLoss`` (whose feature projections are parameters), so the
package's one training loop gives both to its optimiser, gradient clipping, DDP wrapper, checkpoints and
exact resume. Teacher outputs are an argument of ``forward``, never sub-modules: they are frozen and
come from a ``TeacherSource`` (live or cached).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..data.batching import duration_batches
from ..data.dataset import Batch, UtteranceDataset, collate
from ..decode.greedy import greedy_decode
from ..eval.metrics import cer, wer
from ..losses.mix import MixLoss
from ..teachers.base import TeacherOutput
from ..text import Vocabulary
from ..train.loop import EvalFn, StepFn, StepOutput
from .sources import TeacherSource

EVAL_BATCH_SECONDS = 120.0  # padded audio per dev batch


class DistillModule(nn.Module):
    """student + MixLoss; ``forward(batch, teachers)`` returns (total loss, logged terms).

    hidden_layers / attention_layers: the student layers the losses read (see ``distill.requests``).
    """

    def __init__(self, student: nn.Module, loss: MixLoss, *, hidden_layers: Sequence[int] = (),
                 attention_layers: Sequence[int] = ()):
        super().__init__()
        self.student = student
        self.loss = loss
        self.hidden_layers = tuple(hidden_layers)
        self.attention_layers = tuple(attention_layers)

    def forward(self, batch: Batch,
                teachers: Mapping[str, TeacherOutput] | None) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.student(batch.waveforms, batch.waveform_lengths, hidden_layers=self.hidden_layers,
                           attention_layers=self.attention_layers)
        return self.loss(out, teachers or None, batch)


def distill_step(source: TeacherSource) -> StepFn:
    """``step_fn(model, batch)`` for the training loop: teacher outputs, then the module's forward.

    ``model`` is the (possibly DDP-wrapped) ``DistillModule``: calling it, not its parts, is what lets
    DDP synchronise gradients.
    """

    def step(model: nn.Module, batch: Batch) -> StepOutput:
        teachers = source.outputs(batch) if source.names else None
        total, terms = model(batch, teachers)
        return StepOutput(total, terms)

    return step


@torch.inference_mode()
def score_student(student: nn.Module, dataset: UtteranceDataset, vocab: Vocabulary,
                  batch_seconds: float = EVAL_BATCH_SECONDS) -> dict[str, float]:
    """{"wer", "cer"} of ``student``'s greedy transcripts on a labelled ``dataset`` (shared normaliser)."""
    device = next(student.parameters()).device
    refs, hyps = [], []
    for indices in duration_batches(dataset.durations_s, batch_seconds, seed=0, shuffle=False):
        batch = collate([dataset[i] for i in indices]).to(device)
        out = student(batch.waveforms, batch.waveform_lengths)
        hyps.extend(greedy_decode(out.logits.float(), out.lengths, vocab))
        refs.extend(batch.texts)
    return {"wer": wer(refs, hyps), "cer": cer(refs, hyps)}


def dev_eval_fn(dataset: UtteranceDataset, vocab: Vocabulary) -> EvalFn:
    """``eval_fn(module)`` for the loop: the ``DistillModule``'s student scored on ``dataset``."""

    def eval_fn(module: nn.Module) -> dict[str, float]:
        return score_student(module.student, dataset, vocab)

    return eval_fn


class NoTeachers:
    """The source of a recipe whose losses read no teacher (plain CTC)."""

    names: tuple[str, ...] = ()

    def outputs(self, batch: Batch) -> dict[str, TeacherOutput]:
        return {}
