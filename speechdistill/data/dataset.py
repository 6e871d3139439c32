"""A torch Dataset over utterances and the collate function that pads them into CTC batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import SAMPLE_RATE_HZ
from ..text import Vocabulary
from .audio import load_audio
from .records import Utterance

WaveformAugment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Batch:
    """A padded batch. Shapes: waveforms (B, S) float32, waveform_lengths (B,) samples,
    labels (B, L) with -100 padding, label_lengths (B,), labelled (B,) bool (False: no transcript)."""

    ids: tuple[str, ...]
    waveforms: torch.Tensor
    waveform_lengths: torch.Tensor
    labels: torch.Tensor
    label_lengths: torch.Tensor
    labelled: torch.Tensor
    texts: tuple[str | None, ...]

    def to(self, device: torch.device | str) -> Batch:
        """The same batch with its tensors on ``device``."""
        return Batch(self.ids, self.waveforms.to(device), self.waveform_lengths.to(device), self.labels.to(device),
                     self.label_lengths.to(device), self.labelled.to(device), self.texts)

    def __len__(self) -> int:
        return len(self.ids)


class UtteranceDataset(Dataset):
    """Loads each utterance's audio (mono, 16 kHz) and encodes its transcript with ``vocab``.

    ``augment(audio, rng)`` is applied to the waveform when given; the rng is seeded from
    (seed, epoch, index) so augmented epochs are reproducible and resumable.
    """

    def __init__(self, utterances: Sequence[Utterance], vocab: Vocabulary, *, augment: WaveformAugment | None = None,
                 seed: int = 0, sample_rate: int = SAMPLE_RATE_HZ):
        self.utterances = list(utterances)
        self.vocab = vocab
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.sample_rate = sample_rate

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def durations_s(self) -> list[float]:
        return [u.duration_s for u in self.utterances]

    def __getitem__(self, index: int) -> dict:
        utt = self.utterances[index]
        audio = load_audio(utt.audio_path, self.sample_rate)
        if self.augment is not None:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            audio = self.augment(audio, rng)
        labels = self.vocab.encode(utt.text) if utt.text is not None else None
        return {"id": utt.id, "audio": audio, "labels": labels, "text": utt.text}


def collate(items: Sequence[dict]) -> Batch:
    """Pad waveforms with zeros and labels with -100 into a :class:`Batch`."""
    lengths = torch.tensor([len(it["audio"]) for it in items], dtype=torch.long)
    waveforms = torch.zeros(len(items), int(lengths.max()) if len(items) else 0)
    for row, it in enumerate(items):
        waveforms[row, : len(it["audio"])] = torch.from_numpy(np.asarray(it["audio"], dtype=np.float32))
    label_lists = [it["labels"] or [] for it in items]
    label_lengths = torch.tensor([len(x) for x in label_lists], dtype=torch.long)
    labels = torch.full((len(items), max(1, int(label_lengths.max()) if len(items) else 1)), -100, dtype=torch.long)
    for row, ids in enumerate(label_lists):
        labels[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    labelled = torch.tensor([it["labels"] is not None for it in items], dtype=torch.bool)
    return Batch(tuple(it["id"] for it in items), waveforms, lengths, labels, label_lengths, labelled,
                 tuple(it["text"] for it in items))
