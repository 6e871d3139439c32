"""Train a wav2vec2-architecture CTC teacher from scratch (raw waveform in, characters out).

The model is a plain ``Wav2Vec2ForCTC`` built from a ``Wav2Vec2Config`` with no pretrained weights,
saved with its processor so that ``transformers``' own ``from_pretrained`` and ``load_teacher`` both
load it like a hub checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2Processor,
)

from .. import SAMPLE_RATE_HZ
from ..data.batching import duration_batches
from ..data.dataset import Batch, UtteranceDataset, collate
from ..decode.greedy import greedy_decode
from ..eval.metrics import cer, wer
from ..features import normalize_waveforms
from ..text import BLANK, UNK, WORD_DELIMITER, Vocabulary
from ..train.loop import StepOutput

# A compact teacher: 10 x 256 transformer and a slim conv front end (the stock 512-channel one alone
# is ~4M parameters and dominates CPU compute). ~8.4M parameters, 20 ms frames.
DEFAULT_WAV2VEC2 = {
    "hidden_size": 256, "num_hidden_layers": 10, "num_attention_heads": 4, "intermediate_size": 1024,
    "conv_dim": [64, 128, 128, 128, 128, 128, 128], "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2], "feat_extract_norm": "layer", "do_stable_layer_norm": True,
    "num_conv_pos_embeddings": 64, "num_conv_pos_embedding_groups": 16, "mask_time_prob": 0.05,
    "mask_time_length": 5, "mask_feature_prob": 0.0, "hidden_dropout": 0.1, "attention_dropout": 0.1,
    "activation_dropout": 0.0, "feat_proj_dropout": 0.0, "final_dropout": 0.0, "layerdrop": 0.0,
}


def build_wav2vec2(vocab: Vocabulary, overrides: dict[str, Any]) -> Wav2Vec2ForCTC:
    """A randomly initialised Wav2Vec2ForCTC for ``vocab``; unknown config keys are an error."""
    valid = set(Wav2Vec2Config().to_dict())
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"model: unknown Wav2Vec2Config key {unknown[0]!r}")
    settings = {**DEFAULT_WAV2VEC2, **overrides}
    config = Wav2Vec2Config(vocab_size=len(vocab), pad_token_id=vocab.blank_id, ctc_loss_reduction="mean",
                            ctc_zero_infinity=True, **settings)
    return Wav2Vec2ForCTC(config)


def _inputs(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    mask = (torch.arange(batch.waveforms.shape[1], device=batch.waveforms.device)[None, :]
            < batch.waveform_lengths[:, None]).long()
    return normalize_waveforms(batch.waveforms, batch.waveform_lengths), mask


def ctc_step(model: torch.nn.Module, batch: Batch) -> StepOutput:
    """CTC loss of a Wav2Vec2ForCTC on a labelled batch (HF computes the loss from ``labels``)."""
    values, mask = _inputs(batch)
    out = model(input_values=values, attention_mask=mask, labels=batch.labels)
    return StepOutput(out.loss, {"ctc": float(out.loss.detach())})


@torch.inference_mode()
def transcribe_batch(model: Wav2Vec2ForCTC, batch: Batch, vocab: Vocabulary) -> list[str]:
    """Greedy transcripts of a batch."""
    values, mask = _inputs(batch)
    logits = model(input_values=values, attention_mask=mask).logits
    lengths = model._get_feat_extract_output_lengths(batch.waveform_lengths)
    return greedy_decode(logits.float(), lengths, vocab)


def make_eval_fn(dataset: UtteranceDataset, vocab: Vocabulary, batch_seconds: float = 120.0):
    """``eval_fn(model) -> {"wer", "cer"}`` on ``dataset`` with greedy decoding and the shared scorer."""

    def eval_fn(model: torch.nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        refs, hyps = [], []
        for indices in duration_batches(dataset.durations_s, batch_seconds, seed=0, shuffle=False):
            batch = collate([dataset[i] for i in indices]).to(device)
            hyps.extend(transcribe_batch(model, batch, vocab))
            refs.extend(batch.texts)
        return {"wer": wer(refs, hyps), "cer": cer(refs, hyps)}

    return eval_fn


def build_processor(vocab: Vocabulary, directory: Path) -> Wav2Vec2Processor:
    """The processor saved beside the model: character tokenizer + raw-waveform feature extractor."""
    vocab.save(directory / "vocab.json")
    tokenizer = Wav2Vec2CTCTokenizer(str(directory / "vocab.json"), unk_token=UNK, pad_token=BLANK,
                                     word_delimiter_token=WORD_DELIMITER, do_lower_case=False)
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE_HZ, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=True)
    return Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)


def save_wav2vec2(model: Wav2Vec2ForCTC, vocab: Vocabulary, directory: Path, dtype: torch.dtype | None = None) -> None:
    """Write a standard HF directory: config.json, model.safetensors, processor and tokenizer files."""
    directory.mkdir(parents=True, exist_ok=True)
    to_save = model if dtype is None else _copy_as(model, dtype)
    to_save.save_pretrained(directory, safe_serialization=True)
    build_processor(vocab, directory).save_pretrained(directory)


def _copy_as(model: Wav2Vec2ForCTC, dtype: torch.dtype) -> Wav2Vec2ForCTC:
    clone = Wav2Vec2ForCTC(model.config)
    clone.load_state_dict(model.state_dict())
    return clone.to(dtype)


def parameter_count(model: torch.nn.Module, names: Sequence[str] = ()) -> int:
    """Number of parameters (optionally only those whose name contains one of ``names``)."""
    return sum(p.numel() for n, p in model.named_parameters() if not names or any(s in n for s in names))
