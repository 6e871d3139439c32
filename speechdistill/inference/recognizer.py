"""Model-agnostic recognisers: audio in, normalised text out, for CTC models and Whisper alike.

A CTC recogniser wraps any function that maps a batch of waveforms to ``(log_probs, lengths,
frame_period_ms)`` (a CTC teacher, a student) and decodes greedily or with the package's one beam search
(``BeamSearchDecoder``: lexicon and KenLM optional). A Whisper recogniser generates text with the
teacher's decoder. Every transcript goes through ``normalize_text``, like every other text in the package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .. import SAMPLE_RATE_HZ
from ..data.audio import check_audio, load_audio, resample
from ..data.batching import duration_batches
from ..decode.beam import BeamSearchDecoder, BeamSearchOptions, is_special_label
from ..decode.greedy import greedy_ids
from ..decode.timestamps import WordTimestamp, word_timestamps
from ..text import WORD_DELIMITER, normalize_text

DECODERS = ("greedy", "beam")
DEFAULT_BATCH_SECONDS = 60.0  # padded audio per forward pass in transcribe()

AudioInput = str | Path | np.ndarray | torch.Tensor
CTCForward = Callable[[list[np.ndarray]], tuple[torch.Tensor, torch.Tensor, float]]


@dataclass(frozen=True)
class DecodeOptions:
    """How text is read off a model: ``decoder`` 'greedy' or 'beam'; ``beam`` holds the beam settings
    (beam size, lexicon, KenLM; None: the defaults, 50 beams for CTC and 5 for Whisper); for Whisper only
    ``beam.beam_size`` applies."""

    decoder: str = "greedy"
    beam: BeamSearchOptions | None = None

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {self.decoder!r}; choose one of {', '.join(DECODERS)}")


@dataclass(frozen=True)
class Transcript:
    """A transcript with its word timestamps (seconds)."""

    text: str
    words: tuple[WordTimestamp, ...] = ()


def read_audio(audio: AudioInput, sample_rate: int, input_rate: int | None = None) -> np.ndarray:
    """A path (read and resampled) or a 1-D array/tensor at ``input_rate`` (default: the model's) -> mono float32."""
    if isinstance(audio, (str, Path)):
        return load_audio(audio, sample_rate)
    signal = audio.detach().float().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio, np.float32)
    if signal.ndim != 1:
        raise ValueError(f"expected a 1-D mono waveform, got shape {signal.shape}")
    rate = input_rate or sample_rate
    return check_audio(resample(check_audio(signal, "waveform", rate), rate, sample_rate), "waveform", sample_rate)


def batch_waveforms(batch, lengths: torch.Tensor | Sequence[int] | None = None) -> list[np.ndarray]:
    """A data ``Batch``, a padded (B, S) tensor (+ lengths) or a list of 1-D signals -> list of signals."""
    if hasattr(batch, "waveforms") and hasattr(batch, "waveform_lengths"):
        batch, lengths = batch.waveforms, batch.waveform_lengths
    if isinstance(batch, torch.Tensor):
        if batch.ndim != 2:
            raise ValueError(f"a waveform tensor must be (batch, samples), got {tuple(batch.shape)}")
        n = [batch.shape[1]] * batch.shape[0] if lengths is None else [int(x) for x in lengths]
        return [row[:k].detach().float().cpu().numpy() for row, k in zip(batch, n)]
    return [np.asarray(w.detach().cpu() if isinstance(w, torch.Tensor) else w, np.float32) for w in batch]


class Recognizer:
    """What ``speechdistill.load`` returns. ``kind``: 'teacher' or 'student'; ``family``: 'ctc' or 'whisper'."""

    family = "?"

    def __init__(self, *, name: str, kind: str, labels: Sequence[str], sample_rate: int, num_parameters: int,
                 decode: DecodeOptions | None = None):
        self.name = name
        self.kind = kind
        self.labels = tuple(labels)
        self.sample_rate = sample_rate
        self.num_parameters = num_parameters
        self.decode_options = decode or DecodeOptions()

    def set_decode(self, decode: DecodeOptions) -> Recognizer:
        """Switch the decoding settings (e.g. to beam search with a lexicon built from ``labels``); returns self."""
        self.decode_options = decode
        return self

    @property
    def is_ctc(self) -> bool:
        return self.family == "ctc"

    @property
    def max_duration_s(self) -> float | None:
        """Longest audio one call accepts (None: no limit)."""
        return None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, kind={self.kind!r}, "
                f"{self.num_parameters / 1e6:.1f}M params, decoder={self.decode_options.decoder!r})")

    def transcribe(self, audio: AudioInput | Sequence[AudioInput], *, sample_rate: int | None = None,
                   batch_seconds: float = DEFAULT_BATCH_SECONDS) -> str | list[str]:
        """Text for one input (a str back) or a list of inputs (a list back, same order).

        Inputs are audio file paths or 1-D waveforms at ``sample_rate`` (default: the model's rate).
        Lists are run in batches of at most ``batch_seconds`` of padded audio.
        """
        single = not isinstance(audio, (list, tuple))
        signals = [read_audio(a, self.sample_rate, sample_rate) for a in ([audio] if single else audio)]
        texts = self._batched(signals, self.transcribe_waveforms, batch_seconds)
        return texts[0] if single else texts

    def _batched(self, signals: list[np.ndarray], run: Callable[[list[np.ndarray]], list],
                 batch_seconds: float) -> list:
        """``run`` over duration-sized batches of ``signals``; results back in input order."""
        seconds = [len(s) / self.sample_rate for s in signals]
        out: list = [None] * len(signals)
        for indices in duration_batches(seconds, batch_seconds, seed=0, shuffle=False):
            for i, result in zip(indices, run([signals[i] for i in indices])):
                out[i] = result
        return out

    def transcribe_waveforms(self, waveforms: list[np.ndarray]) -> list[str]:
        """Text for one batch of mono signals at the model's rate."""
        raise NotImplementedError

    def log_probs(self, batch, lengths=None) -> tuple[torch.Tensor, torch.Tensor, float]:
        """(B, T, V) CTC log-probabilities, (B,) valid frames and the frame period in ms (CTC models only)."""
        raise ValueError(f"{self.name} is a {self.family} model: it has no CTC log-probabilities")

    def transcribe_timed(self, audio: AudioInput | Sequence[AudioInput], *,
                         sample_rate: int | None = None) -> Transcript | list[Transcript]:
        """Like ``transcribe`` but with word timestamps (CTC models only)."""
        raise ValueError(f"{self.name} is a {self.family} model: word timestamps need a CTC model")


class CTCRecognizer(Recognizer):
    """A CTC model behind ``forward(waveforms) -> (log_probs, lengths, frame_period_ms)``."""

    family = "ctc"

    def __init__(self, forward: CTCForward, labels: Sequence[str], *, name: str, kind: str, num_parameters: int,
                 sample_rate: int = SAMPLE_RATE_HZ, blank_id: int = 0, delimiter: str = WORD_DELIMITER,
                 decode: DecodeOptions | None = None):
        super().__init__(name=name, kind=kind, labels=labels, sample_rate=sample_rate,
                         num_parameters=num_parameters, decode=decode)
        self.forward = forward
        self.blank_id = blank_id
        self.delimiter = delimiter
        self._beam: BeamSearchDecoder | None = None

    def set_decode(self, decode: DecodeOptions) -> Recognizer:
        self._beam = None  # rebuilt with the new settings on first use
        return super().set_decode(decode)

    def log_probs(self, batch, lengths=None) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Run the model on a ``Batch``, a padded (B, S) tensor + lengths, or a list of signals."""
        return self.forward(batch_waveforms(batch, lengths))

    @property
    def beam_decoder(self) -> BeamSearchDecoder:
        """The beam search over this model's labels (built on first use)."""
        if self._beam is None:
            options = replace(self.decode_options.beam or BeamSearchOptions(), blank_token=self.labels[self.blank_id],
                              sil_token=self.delimiter)
            self._beam = BeamSearchDecoder(self.labels, options)
        return self._beam

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Normalised text per item with the configured decoder."""
        if self.decode_options.decoder == "beam":
            lists = self.beam_decoder.decode(log_probs, lengths, nbest=1, normalize=normalize_text)
            return [hyps[0].text if hyps else "" for hyps in lists]
        return [normalize_text(self._ids_to_text(ids)) for ids in greedy_ids(log_probs, lengths, self.blank_id)]

    def _ids_to_text(self, ids: list[int]) -> str:
        chars = (self.labels[i] for i in ids)
        return "".join(" " if c == self.delimiter else c for c in chars if not is_special_label(c))

    def transcribe_waveforms(self, waveforms: list[np.ndarray]) -> list[str]:
        log_probs, lengths, _ = self.forward(waveforms)
        return self.decode(log_probs, lengths)

    def transcribe_timed(self, audio: AudioInput | Sequence[AudioInput], *,
                         sample_rate: int | None = None) -> Transcript | list[Transcript]:
        """Transcripts with word start/end times from forced alignment of the decoded text."""
        single = not isinstance(audio, (list, tuple))
        signals = [read_audio(a, self.sample_rate, sample_rate) for a in ([audio] if single else audio)]
        out = self._batched(signals, self._timed_batch, DEFAULT_BATCH_SECONDS)
        return out[0] if single else out

    def _timed_batch(self, waveforms: list[np.ndarray]) -> list[Transcript]:
        log_probs, lengths, frame_ms = self.forward(waveforms)
        texts = self.decode(log_probs, lengths)
        return [Transcript(text, tuple(word_timestamps(lp[: int(n)], text, self.labels, frame_ms,
                                                       blank_id=self.blank_id, delimiter=self.delimiter)))
                for lp, n, text in zip(log_probs, lengths, texts)]
