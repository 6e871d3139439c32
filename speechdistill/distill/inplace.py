"""In-place distillation: a streaming student's own full-context mode teaches its streaming mode.

A recipe names the student itself as a teacher with the spec ``self:full_context``::

    teachers:
      full_context: {spec: "self:full_context"}
    losses:
      frame_kl: {teacher: full_context, temperature: 1.0}

Every update, :class:`SelfTeacherSource` runs the student being trained once more, in eval mode (no dropout,
no SpecAugment), with full-context attention and no gradient, and hands its CTC posteriors to the losses as
the output of a teacher with the student's own labels and 40 ms frames. The training pass itself draws a
chunk size per batch (dynamic chunks), so the KL pulls each latency towards what the model says when it
hears the whole utterance (dual-mode ASR, Yu et al. 2021; offline-to-streaming KD, Kurata & Saon 2020).
The teacher moves with the student; it is never loaded from disk and never cached.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..data.dataset import Batch
from ..teachers.base import LOG_ZERO, TeacherOutput
from ..text import Vocabulary
from .config import DistillConfig, TeacherSpec
from .sources import TeacherRequest, TeacherSource

SELF_SPEC = "self:full_context"
BLANK_ID = 0


def is_self_teacher(spec: TeacherSpec) -> bool:
    """Whether a recipe's teacher entry is the student itself (``spec: self:full_context``)."""
    return spec.spec == SELF_SPEC


def self_teacher_names(config: DistillConfig) -> tuple[str, ...]:
    """Names of the recipe's teachers that are the student itself."""
    return tuple(name for name, spec in config.teachers.items() if is_self_teacher(spec))


def external_requests(config: DistillConfig, requests: Mapping[str, TeacherRequest]) -> dict[str, TeacherRequest]:
    """The requests for teachers that must be loaded or read from a cache (every one but the student itself)."""
    own = set(self_teacher_names(config))
    return {name: request for name, request in requests.items() if name not in own}


def check_self_request(name: str, request: TeacherRequest, student: nn.Module) -> None:
    """ValueError unless the losses read only posteriors of the self teacher, and the student can stream."""
    if request.hidden_layers or request.attentions or request.nbest:
        raise ValueError(f"teachers.{name}: the student's own full-context mode provides CTC posteriors only "
                         "(frame_kl); hidden states, attention maps and N-best lists are not offered")
    if not getattr(getattr(student, "config", None), "streaming", False):
        raise ValueError(f"teachers.{name}: spec {SELF_SPEC!r} needs a streaming student "
                         "(student.overrides.streaming: true)")


class SelfTeacherSource:
    """``base``'s teachers plus the student's full-context posteriors under each name in ``names``."""

    def __init__(self, student: nn.Module, names: tuple[str, ...], vocab: Vocabulary,
                 base: TeacherSource | None = None):
        self.student, self.self_names, self.labels, self.base = student, names, tuple(vocab.labels), base
        self.names = (*(base.names if base is not None else ()), *names)

    @property
    def hidden_sizes(self) -> dict[str, int]:
        return dict(getattr(self.base, "hidden_sizes", None) or {})

    def outputs(self, batch: Batch) -> dict[str, TeacherOutput]:
        outputs = dict(self.base.outputs(batch)) if self.base is not None and self.base.names else {}
        own = self.full_context(batch)
        outputs.update({name: own for name in self.self_names})
        return outputs

    @torch.no_grad()
    def full_context(self, batch: Batch) -> TeacherOutput:
        """The student's full-context CTC posteriors for ``batch`` (eval mode; training mode restored after)."""
        was_training = self.student.training
        self.student.eval()
        try:
            out = self.student(batch.waveforms, batch.waveform_lengths, chunk_frames=0)
        finally:
            self.student.train(was_training)
        log_probs = torch.log_softmax(out.logits.float(), dim=-1)
        # TeacherOutput's contract: padded frames hold a certain blank.
        padding = ~out.frame_mask
        certain_blank = torch.full_like(log_probs[0, 0], LOG_ZERO)
        certain_blank[BLANK_ID] = 0.0
        log_probs = torch.where(padding[..., None], certain_blank, log_probs)
        return TeacherOutput(lengths=out.lengths, frame_period_ms=out.frame_period_ms, labels=self.labels,
                             log_probs=log_probs)


def with_self_teachers(source: TeacherSource | None, config: DistillConfig, requests: Mapping[str, TeacherRequest],
                       student: nn.Module, vocab: Vocabulary) -> TeacherSource:
    """``source`` extended by the student's own full-context mode where the recipe names it; else ``source``."""
    names = tuple(name for name in self_teacher_names(config) if name in requests)
    if not names:
        return source
    for name in names:
        check_self_request(name, requests[name], student)
    return SelfTeacherSource(student, names, vocab, source if source is not None and source.names else None)
