"""Train a Whisper-architecture teacher from scratch (log-mel in, byte-level BPE text out).

The model is a plain ``WhisperForConditionalGeneration`` built from a ``WhisperConfig`` with no
pretrained weights, a small BPE tokenizer trained on the training transcripts (see
``whisper_tokenizer``) and a short input window: the corpus holds voice commands of a few seconds, so
the encoder sees ``2 * max_source_positions`` mel frames (500 -> 10 s) instead of Whisper's 30 s.
Log-mel features are computed in torch on the batch's device, exactly as ``WhisperFeatureExtractor``
computes them. The saved directory (model, generation config, processor) transcribes with plain
``WhisperForConditionalGeneration.from_pretrained`` + ``WhisperProcessor.from_pretrained``, offline.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)

from .. import SAMPLE_RATE_HZ
from ..data.batching import duration_batches
from ..data.dataset import Batch, UtteranceDataset, collate
from ..eval.metrics import cer, wer
from ..text import normalize_text
from ..train.loop import EvalFn, StepOutput
from .whisper_tokenizer import DEFAULT_BPE_VOCAB_SIZE, SpecialIds, spoken_form, tokenizer_for_run

N_FFT = 400  # samples (25 ms)
HOP_SAMPLES = 160  # 10 ms mel frames; the encoder's stride-2 conv makes 20 ms positions
FRAMES_PER_POSITION = 2
POSITIONS_PER_SECOND = SAMPLE_RATE_HZ // (HOP_SAMPLES * FRAMES_PER_POSITION)  # 50
TOKENIZER_DIR = "tokenizer"  # under the run's work_dir
BPE_KEY = "bpe_vocab_size"  # the one model_config key that is not a WhisperConfig key

# ~5.8M parameters with a 512-token BPE: 4 x 256 encoder, 2 x 256 decoder, 10 s window, 128 tokens.
DEFAULT_WHISPER: dict[str, Any] = {
    "d_model": 256, "encoder_layers": 4, "decoder_layers": 2, "encoder_attention_heads": 4,
    "decoder_attention_heads": 4, "encoder_ffn_dim": 1024, "decoder_ffn_dim": 1024, "num_mel_bins": 80,
    "max_source_positions": 500, "max_target_positions": 128, "dropout": 0.1, "attention_dropout": 0.0,
    "activation_dropout": 0.0, "apply_spec_augment": True, "mask_time_prob": 0.05, "mask_time_length": 10,
    "mask_time_min_masks": 2, "mask_feature_prob": 0.1, "mask_feature_length": 10,
}


@dataclass(frozen=True)
class FrontEnd:
    """Log-mel settings: ``n_mels`` bins over a fixed window of ``window_s`` seconds (zero-padded)."""

    n_mels: int
    window_s: int

    @classmethod
    def of(cls, config: WhisperConfig) -> FrontEnd:
        """The front end a model config expects (window = 2 * max_source_positions mel frames)."""
        if config.max_source_positions % POSITIONS_PER_SECOND:
            raise ValueError(f"max_source_positions must be a multiple of {POSITIONS_PER_SECOND} (whole seconds "
                             f"for WhisperFeatureExtractor.chunk_length), got {config.max_source_positions}")
        return cls(config.num_mel_bins, config.max_source_positions // POSITIONS_PER_SECOND)

    @property
    def window_samples(self) -> int:
        return self.window_s * SAMPLE_RATE_HZ

    def extractor(self) -> WhisperFeatureExtractor:
        """The ``WhisperFeatureExtractor`` that computes the same features (saved with the model)."""
        return WhisperFeatureExtractor(feature_size=self.n_mels, sampling_rate=SAMPLE_RATE_HZ, hop_length=HOP_SAMPLES,
                                       chunk_length=self.window_s, n_fft=N_FFT)


@functools.lru_cache(maxsize=8)
def _mel_filters(front: FrontEnd, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(front.extractor().mel_filters).to(device, torch.float32)


def log_mel(waveforms: torch.Tensor, lengths: torch.Tensor, front: FrontEnd) -> tuple[torch.Tensor, torch.Tensor]:
    """Whisper log-mel features (B, n_mels, frames) of a padded batch and its frame mask (B, frames).

    Same computation as ``WhisperFeatureExtractor``: zero-pad to the window, |STFT|^2 (Hann, centred),
    Slaney mel, log10, clamp to 8 below each utterance's maximum, then (x + 4) / 4. Always float32.
    """
    longest = int(lengths.max()) if len(lengths) else 0
    if longest > front.window_samples:
        raise ValueError(f"utterance of {longest / SAMPLE_RATE_HZ:.2f} s is longer than the Whisper window of "
                         f"{front.window_s} s; lower data.max_duration_s (leave room for speed perturbation) or "
                         "raise model.max_source_positions (50 per second)")
    device = waveforms.device
    with torch.autocast(device_type=device.type, enabled=False):
        valid = torch.arange(waveforms.shape[1], device=device)[None, :] < lengths[:, None]
        audio = F.pad(waveforms.float() * valid, (0, front.window_samples - waveforms.shape[1]))
        stft = torch.stft(audio, N_FFT, HOP_SAMPLES, window=torch.hann_window(N_FFT, device=device),
                          return_complex=True)
        power = (stft[..., :-1].abs() ** 2).contiguous()
        mel = (_mel_filters(front, device).T @ power).clamp(min=1e-10).log10()
        mel = torch.maximum(mel, mel.amax(dim=(1, 2), keepdim=True) - 8.0)
    frames = torch.arange(mel.shape[-1], device=device)[None, :] * HOP_SAMPLES < lengths[:, None]
    return (mel + 4.0) / 4.0, frames.long()


def split_model_config(model_config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(BPE vocabulary size, WhisperConfig overrides); an unknown key is an error naming it."""
    overrides = dict(model_config)
    bpe_vocab_size = int(overrides.pop(BPE_KEY, DEFAULT_BPE_VOCAB_SIZE))
    unknown = sorted(set(overrides) - set(WhisperConfig().to_dict()))
    if unknown:
        raise ValueError(f"model: unknown WhisperConfig key {unknown[0]!r} (besides WhisperConfig keys only "
                         f"{BPE_KEY!r} is accepted)")
    return bpe_vocab_size, overrides


def whisper_config(tokenizer: WhisperTokenizer, overrides: dict[str, Any]) -> WhisperConfig:
    """A ``WhisperConfig`` over ``tokenizer``: the defaults above, ``overrides``, consistent token ids."""
    ids = SpecialIds.of(tokenizer)
    settings = {**DEFAULT_WHISPER, **overrides}
    config = WhisperConfig(vocab_size=len(tokenizer), decoder_start_token_id=ids.sot, bos_token_id=ids.eot,
                           eos_token_id=ids.eot, pad_token_id=ids.eot, suppress_tokens=ids.suppressed(len(tokenizer)),
                           begin_suppress_tokens=[ids.space, ids.eot], **settings)
    FrontEnd.of(config)  # fail early on a window that is not whole seconds
    return config


def generation_config(config: WhisperConfig, ids: SpecialIds) -> GenerationConfig:
    """Greedy English transcription without timestamps, in the form Whisper ``generate`` reads."""
    return GenerationConfig(
        decoder_start_token_id=ids.sot, bos_token_id=ids.eot, eos_token_id=ids.eot, pad_token_id=ids.eot,
        max_length=config.max_target_positions, num_beams=1, do_sample=False,
        suppress_tokens=list(config.suppress_tokens), begin_suppress_tokens=list(config.begin_suppress_tokens),
        no_timestamps_token_id=ids.no_timestamps, prev_sot_token_id=ids.prev_sot, is_multilingual=True,
        lang_to_id={"<|en|>": ids.english}, task_to_id={"transcribe": ids.transcribe, "translate": ids.translate},
        language="en", task="transcribe", return_timestamps=False,
    )


def build_whisper(tokenizer: WhisperTokenizer, overrides: dict[str, Any]) -> WhisperForConditionalGeneration:
    """A randomly initialised ``WhisperForConditionalGeneration`` for ``tokenizer``."""
    config = whisper_config(tokenizer, overrides)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = generation_config(config, SpecialIds.of(tokenizer))
    return model


@dataclass(frozen=True)
class LabelEncoder:
    """Turns transcripts into teacher-forcing pairs for the decoder."""

    tokenizer: WhisperTokenizer
    ids: SpecialIds
    max_target_positions: int

    def encode(self, texts: tuple[str | None, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(decoder_input_ids, labels), both (B, L).

        Inputs are ``<|startoftranscript|><|en|><|transcribe|><|notimestamps|>`` + BPE(text); labels are the
        inputs shifted left + ``<|endoftext|>``. The forced prompt tokens are not scored (-100): generate
        never predicts them. Padding: ``<|endoftext|>`` in the inputs, -100 in the labels.
        """
        if any(t is None for t in texts):
            raise ValueError("Whisper teacher training needs a transcript for every utterance")
        pieces = self.tokenizer([spoken_form(t) for t in texts], add_special_tokens=False).input_ids
        prefix = list(self.ids.prefix)
        longest = len(prefix) + max(len(p) for p in pieces)
        if longest > self.max_target_positions:
            raise ValueError(f"a transcript needs {longest} decoder tokens, more than max_target_positions="
                             f"{self.max_target_positions}; raise model.max_target_positions")
        inputs = torch.full((len(texts), longest), self.ids.eot, dtype=torch.long)
        labels = torch.full((len(texts), longest), -100, dtype=torch.long)
        for row, piece in enumerate(pieces):
            inputs[row, : len(prefix) + len(piece)] = torch.tensor(prefix + piece)
            labels[row, len(prefix) - 1: len(prefix) + len(piece)] = torch.tensor(piece + [self.ids.eot])
        return inputs.to(device), labels.to(device)


def ce_step(model: torch.nn.Module, batch: Batch, front: FrontEnd, labels: LabelEncoder) -> StepOutput:
    """Token cross-entropy with teacher forcing (SpecAugment from the config applies in training mode)."""
    features, frame_mask = log_mel(batch.waveforms, batch.waveform_lengths, front)
    decoder_inputs, targets = labels.encode(batch.texts, features.device)
    out = model(input_features=features, attention_mask=frame_mask, decoder_input_ids=decoder_inputs,
                labels=targets, use_cache=False)
    return StepOutput(out.loss, {"ce": float(out.loss.detach())})


@torch.inference_mode()
def transcribe_batch(model: WhisperForConditionalGeneration, batch: Batch, front: FrontEnd,
                     tokenizer: WhisperTokenizer) -> list[str]:
    """Greedy transcripts (normalised) of a batch with the model's generation config."""
    features, _ = log_mel(batch.waveforms, batch.waveform_lengths, front)
    tokens = model.generate(input_features=features.to(model.dtype))
    return [normalize_text(t) for t in tokenizer.batch_decode(tokens, skip_special_tokens=True)]


def make_eval_fn(dataset: UtteranceDataset, tokenizer: WhisperTokenizer, batch_seconds: float = 120.0,
                 max_batch_items: int = 64) -> EvalFn:
    """``eval_fn(model) -> {"wer", "cer"}`` on ``dataset`` with greedy generation and the shared scorer.

    Every item costs a full window in the encoder, so batches are capped by item count too.
    """

    def eval_fn(model: torch.nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        front = FrontEnd.of(model.config)
        refs, hyps = [], []
        for indices in duration_batches(dataset.durations_s, batch_seconds, seed=0, shuffle=False,
                                        max_batch_items=max_batch_items):
            batch = collate([dataset[i] for i in indices]).to(device)
            hyps.extend(transcribe_batch(model, batch, front, tokenizer))
            refs.extend(batch.texts)
        return {"wer": wer(refs, hyps), "cer": cer(refs, hyps)}

    return eval_fn


def build_processor(tokenizer: WhisperTokenizer, front: FrontEnd) -> WhisperProcessor:
    """The processor saved beside the model: BPE tokenizer + feature extractor for the model's window."""
    return WhisperProcessor(feature_extractor=front.extractor(), tokenizer=tokenizer)


def save_whisper(model: WhisperForConditionalGeneration, tokenizer: WhisperTokenizer, directory: Path,
                 dtype: torch.dtype | None = None) -> None:
    """Write a standard HF directory: config, generation config, model.safetensors, processor files."""
    directory.mkdir(parents=True, exist_ok=True)
    to_save = model if dtype is None else _copy_as(model, dtype)
    to_save.save_pretrained(directory, safe_serialization=True)
    build_processor(tokenizer, FrontEnd.of(model.config)).save_pretrained(directory)


def _copy_as(model: WhisperForConditionalGeneration, dtype: torch.dtype) -> WhisperForConditionalGeneration:
    clone = WhisperForConditionalGeneration(model.config)
    clone.load_state_dict(model.state_dict())
    clone.generation_config = model.generation_config
    return clone.to(dtype)


class WhisperArchitecture:
    """Log-mel Whisper encoder-decoder teacher over a BPE trained on the training transcripts."""

    name = "whisper"

    def __init__(self) -> None:
        self.tokenizer: WhisperTokenizer | None = None
        self.front: FrontEnd | None = None
        self.labels: LabelEncoder | None = None

    def build(self, vocab, model_config, train_texts, work_dir):
        """Train (or reload, when resuming) the tokenizer under ``work_dir`` and build a fresh model."""
        bpe_vocab_size, overrides = split_model_config(model_config)
        max_target = int({**DEFAULT_WHISPER, **overrides}["max_target_positions"])
        self.tokenizer = tokenizer_for_run(Path(work_dir) / TOKENIZER_DIR, train_texts, bpe_vocab_size, max_target)
        model = build_whisper(self.tokenizer, overrides)
        self.front = FrontEnd.of(model.config)
        self.labels = LabelEncoder(self.tokenizer, SpecialIds.of(self.tokenizer), max_target)
        return model

    def step(self, model, batch):
        return ce_step(model, batch, self._built().front, self.labels)

    def eval_fn(self, dataset):
        return make_eval_fn(dataset, self._built().tokenizer)

    def save(self, model, directory, dtype=None):
        save_whisper(model, self._built().tokenizer, Path(directory), dtype)

    def _built(self) -> WhisperArchitecture:
        if self.tokenizer is None:
            raise RuntimeError("WhisperArchitecture.build must be called first")
        return self
