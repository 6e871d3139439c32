"""A tiny random Hugging Face Whisper and its CTranslate2 conversion, made offline by CTranslate2's own converter.

``save_tiny_hf_whisper`` writes a 2+2-layer Whisper (d_model 64, 2 heads, 1 s window) whose tokenizer is
a byte-level BPE with Whisper's special tokens (``build_whisper_tokenizer``); ``convert_to_ct2`` runs
``ctranslate2.converters.TransformersConverter`` on it. ``write_ct2_model`` serialises a ``CT2Model``
back to the binary format, so tests can edit variables.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch

from speechdistill.teachers.ct2_format import DTYPES, CT2Model

TEXTS = ("turn on the lights", "set a timer for five minutes", "call mom", "play some jazz")
WINDOW_POSITIONS = 50  # encoder positions of 20 ms: a 1 s window
MAX_TARGET_POSITIONS = 16


def save_tiny_hf_whisper(directory: Path, seed: int = 0, window_positions: int = WINDOW_POSITIONS,
                         target_positions: int = MAX_TARGET_POSITIONS) -> Path:
    """A random English-only tiny Whisper + WhisperProcessor saved like a hub checkpoint.

    window_positions: encoder positions of 20 ms; target_positions: decoder positions (OpenAI's 1500 = 30 s
    and 448 are what faster-whisper assumes).
    """
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    from speechdistill.teachers.whisper_tokenizer import SpecialIds, build_whisper_tokenizer

    tokenizer = build_whisper_tokenizer(TEXTS, bpe_vocab_size=256)
    ids = SpecialIds.of(tokenizer)
    config = WhisperConfig(
        vocab_size=len(tokenizer) + 4, num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        max_source_positions=window_positions, max_target_positions=target_positions,
        decoder_start_token_id=ids.sot, eos_token_id=ids.eot, pad_token_id=ids.eot, bos_token_id=ids.eot,
        init_std=0.2)  # large random weights keep beams apart, so ties cannot decide a comparison
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids.sot, eos_token_id=ids.eot, pad_token_id=ids.eot, bos_token_id=ids.eot,
        max_length=target_positions, is_multilingual=False, no_timestamps_token_id=ids.no_timestamps,
        begin_suppress_tokens=[ids.space, ids.eot], suppress_tokens=list(range(ids.sot + 1, ids.no_timestamps)))
    model.save_pretrained(directory)
    extractor = WhisperFeatureExtractor(feature_size=80, chunk_length=window_positions // 50)
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


def convert_to_ct2(hf_dir: Path, out: Path, quantization: str = "float32") -> Path:
    """CTranslate2's converter: ``hf_dir`` -> a CTranslate2 directory (model.bin, config.json, tokenizer.json)."""
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(hf_dir), copy_files=["tokenizer.json"]).convert(str(out), quantization=quantization)
    return out


def write_ct2_model(model: CT2Model, path: Path) -> Path:
    """Serialise ``model`` in CTranslate2's binary layout (see ``speechdistill.teachers.ct2_format``)."""
    dtype_ids = {np.dtype(dtype): i for i, dtype in DTYPES.items() if i != 5}

    def string(text: str) -> bytes:
        raw = text.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    out = [struct.pack("<I", model.binary_version), string(model.spec_name),
           struct.pack("<II", model.spec_revision, len(model.variables))]
    for name, array in model.variables.items():
        out += [string(name), struct.pack("<B", array.ndim), struct.pack(f"<{array.ndim}I", *array.shape),
                struct.pack("<BI", dtype_ids[array.dtype], array.nbytes), array.astype(array.dtype.newbyteorder("<")).tobytes()]
    out.append(struct.pack("<I", len(model.aliases)))
    for alias, target in model.aliases.items():
        out += [string(alias), string(target)]
    path.write_bytes(b"".join(out))
    return path
