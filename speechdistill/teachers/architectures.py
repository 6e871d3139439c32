"""What differs between teacher architectures during training, behind one small protocol.

Each architecture builds a fresh model, supplies the loss step and the dev evaluation, and saves a
standard Hugging Face directory. The training loop itself is shared (``speechdistill.train``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ..data.dataset import Batch, UtteranceDataset
from ..text import Vocabulary
from ..train.loop import EvalFn, StepOutput
from . import train_wav2vec2 as w2v


class TeacherArchitecture(Protocol):
    """The architecture-specific half of teacher training."""

    name: str

    def build(self, vocab: Vocabulary, model_config: dict[str, Any], train_texts: Sequence[str],
              work_dir: Path) -> torch.nn.Module: ...

    def step(self, model: torch.nn.Module, batch: Batch) -> StepOutput: ...

    def eval_fn(self, dataset: UtteranceDataset) -> EvalFn: ...

    def save(self, model: torch.nn.Module, directory: Path, dtype: torch.dtype | None = None) -> None: ...


class Wav2Vec2Architecture:
    """Raw-waveform wav2vec2 CTC teacher over the character vocabulary."""

    name = "wav2vec2"

    def __init__(self) -> None:
        self.vocab: Vocabulary | None = None

    def build(self, vocab, model_config, train_texts, work_dir):
        self.vocab = vocab
        return w2v.build_wav2vec2(vocab, model_config)

    def step(self, model, batch):
        return w2v.ctc_step(model, batch)

    def eval_fn(self, dataset):
        return w2v.make_eval_fn(dataset, self.vocab)

    def save(self, model, directory, dtype=None):
        w2v.save_wav2vec2(model, self.vocab, directory, dtype)


def get_architecture(name: str) -> TeacherArchitecture:
    """The architecture called ``name`` ('wav2vec2' or 'whisper')."""
    if name == "wav2vec2":
        return Wav2Vec2Architecture()
    if name == "whisper":
        from .train_whisper import WhisperArchitecture

        return WhisperArchitecture()
    raise ValueError(f"unknown teacher architecture {name!r}; supported: wav2vec2, whisper")
