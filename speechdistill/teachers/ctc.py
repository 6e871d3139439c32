"""CTC teachers: wav2vec2, HuBERT, WavLM and Data2Vec-audio models with a CTC head (``AutoModelForCTC``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from ..decode.beam import BeamSearchDecoder, BeamSearchOptions, Hypothesis
from ..text import WORD_DELIMITER, normalize_text
from .base import LOG_ZERO, HFTeacher, TeacherOutput, Waveforms, frame_mask


def ctc_labels(tokenizer, vocab_size: int) -> tuple[str, ...]:
    """Label of every output column; ids the tokenizer does not know become ``<unusedN>``."""
    by_id = {i: token for token, i in tokenizer.get_vocab().items()}
    return tuple(by_id.get(i, f"<unused{i}>") for i in range(vocab_size))


def mask_log_probs(log_probs: torch.Tensor, lengths: torch.Tensor, blank_id: int) -> torch.Tensor:
    """Make frames at or beyond ``lengths`` a certain blank: 0 for the blank, ``LOG_ZERO`` for the rest."""
    certain_blank = torch.full((log_probs.shape[-1],), LOG_ZERO, dtype=log_probs.dtype, device=log_probs.device)
    certain_blank[blank_id] = 0.0
    padded = ~frame_mask(lengths, log_probs.shape[1])
    return torch.where(padded[..., None], certain_blank, log_probs)


class CTCBeamNbest:
    """CTC N-best by flashlight beam search over ``self.labels`` with ``self.beam`` (shared by CTC teachers)."""

    _decoder: BeamSearchDecoder | None = None

    @property
    def beam_decoder(self) -> BeamSearchDecoder:
        """The teacher's beam search over its labels (built on first use)."""
        if self._decoder is None:
            self._decoder = BeamSearchDecoder(self.labels, self.beam)
        return self._decoder

    def _nbest(self, log_probs: torch.Tensor, frames: torch.Tensor, n: int) -> tuple[tuple[Hypothesis, ...], ...]:
        lists = self.beam_decoder.decode(log_probs, frames, nbest=n, normalize=normalize_text)
        return tuple(tuple(hyps) for hyps in lists)


class CTCTeacher(CTCBeamNbest, HFTeacher):
    """A frozen CTC teacher. Frames are 20 ms for the wav2vec2 family (the conv encoder's 320-sample stride).

    N-best lists come from flashlight beam search (``BeamSearchOptions``; the tokenizer's pad token is the
    blank and its word delimiter the silence token); their texts go through ``normalize_text``.
    """

    family = "ctc"

    def __init__(self, model: torch.nn.Module, processor, *, name: str, device: str | torch.device = "cpu",
                 nbest: int = 0, beam: BeamSearchOptions | None = None):
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is None:
            raise ValueError(f"{name}: a CTC teacher needs a tokenizer (vocab.json) beside the model")
        labels = ctc_labels(tokenizer, model.config.vocab_size)
        super().__init__(model, processor, name=name, device=device, labels=labels, nbest=nbest)
        self.blank_id = int(model.config.pad_token_id if model.config.pad_token_id is not None else 0)
        delimiter = getattr(tokenizer, "word_delimiter_token", None) or WORD_DELIMITER
        self.beam = replace(beam or BeamSearchOptions(), blank_token=labels[self.blank_id], sil_token=str(delimiter))

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def frame_period_ms(self) -> float:
        config = self.model.config
        stride = math.prod(config.conv_stride)
        if getattr(config, "add_adapter", False):
            stride *= config.adapter_stride ** config.num_adapter_layers
        return 1000.0 * stride / self.sample_rate

    def __call__(self, waveforms: Waveforms, lengths: torch.Tensor | Sequence[int] | None = None, *,
                 sample_rate: int | None = None, hidden_layers: Sequence[int] = (), attentions: bool = False,
                 nbest: int | None = None) -> TeacherOutput:
        """Run the teacher on a batch (see ``TeacherOutput``); audio at another ``sample_rate`` is resampled."""
        audio = self.prepare_audio(waveforms, lengths, sample_rate)
        layers = self.resolve_layers(hidden_layers)
        out, frames = self._forward(audio, layers, attentions)
        # Post-processing runs outside inference mode so that the outputs are ordinary tensors that a loss
        # can save for backward.
        log_probs = mask_log_probs(out.logits.float().log_softmax(-1), frames, self.blank_id)
        n = self.default_nbest if nbest is None else nbest
        return TeacherOutput(
            lengths=frames, frame_period_ms=self.frame_period_ms, labels=self.labels, log_probs=log_probs,
            hidden_states=self.select_hidden(out.hidden_states, layers, frames, log_probs.shape[1]),
            attentions=tuple(a.clone() for a in out.attentions) if attentions else None,
            nbest=self._nbest(log_probs, frames, n) if n > 0 else None)

    def _forward(self, audio: list[np.ndarray], layers: tuple[int, ...], attentions: bool):
        extractor = self.processor.feature_extractor
        inputs = extractor(audio, sampling_rate=self.sample_rate, padding=True, return_attention_mask=True,
                           return_tensors="pt")
        dtype = next(self.model.parameters()).dtype
        # Models trained without an attention mask (group-norm conv encoders, e.g. wav2vec2-base) must get
        # zero padding only; the feature extractor's config says which kind this is.
        mask = inputs["attention_mask"].to(self.device) if extractor.return_attention_mask else None
        with torch.inference_mode(), self.attention_implementation(attentions):
            out = self.model(inputs["input_values"].to(self.device, dtype), attention_mask=mask,
                             output_hidden_states=bool(layers), output_attentions=attentions)
        samples = torch.tensor([len(a) for a in audio])
        frames = self.model._get_feat_extract_output_lengths(samples).to(self.device, torch.long)
        return out, frames
