"""Where the trainer gets teacher outputs: running the teachers live, or reading a precomputed cache.

Both sides speak one protocol, so ``teacher_source: cache|live`` in a recipe swaps one object and
nothing else in the trainer changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..data.dataset import Batch
from ..teachers.base import TeacherOutput


@dataclass(frozen=True)
class TeacherRequest:
    """What the configured losses need from one teacher; nothing more is computed or read.

    hidden_layers: teacher layer indices (HF numbering: 0 = embeddings, i = after layer i).
    attentions: whether attention maps are needed. nbest: hypotheses per item (0 = none).
    log_probs: whether CTC posteriors are needed (CTC teachers only).
    """

    hidden_layers: tuple[int, ...] = ()
    attentions: bool = False
    nbest: int = 0
    log_probs: bool = True


class TeacherSource(Protocol):
    """Teacher outputs for a batch, keyed by teacher name (as named in the recipe)."""

    names: tuple[str, ...]

    def outputs(self, batch: Batch) -> dict[str, TeacherOutput]:
        """Outputs for exactly the utterances of ``batch`` (matched by ``batch.ids``), on the batch's device."""
        ...
