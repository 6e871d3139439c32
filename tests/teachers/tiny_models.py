"""Tiny random Hugging Face teachers built from configs and saved like hub checkpoints (no network).

``save_tiny_ctc_teacher`` writes a wav2vec2 / HuBERT / WavLM / Data2Vec-audio CTC model with a
Wav2Vec2 processor (vocab.json from a ``Vocabulary``); ``save_tiny_whisper_teacher`` writes a Whisper
model with a small byte-level BPE ``WhisperTokenizer`` whose tokens are letters, a few words and a few
symbols that the normaliser spells out (digits, ':', '%', 'Dr.'), plus Whisper's special tokens.
Both return the directory, ready for ``load_teacher``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from speechdistill.text import Vocabulary

CTC_FAMILIES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")
# wav2vec2-base-960h's labels: upper-case letters, ordered by frequency.
UPPER_CASE_LABELS = ("<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ")
WHISPER_SPECIALS = ("<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
                    "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")
WHISPER_WORDS = ("Ġthe", "Ġcat", "Ġon", "Ġa", "Ġmat", "Dr", ".", "5", ":", "3", "0", "%", "Ġ")

# A 3-layer conv encoder with the usual 320-sample (20 ms) total stride keeps the models tiny.
_TINY_ENCODER = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                     conv_dim=(8, 8, 8), conv_stride=(5, 4, 16), conv_kernel=(10, 4, 16), conv_bias=True,
                     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, mask_time_prob=0.0)


def tiny_ctc_config(family: str, vocab_size: int, feat_extract_norm: str = "layer", **overrides):
    """A tiny config of ``family`` (one of CTC_FAMILIES) with a CTC head over ``vocab_size`` labels."""
    from transformers import Data2VecAudioConfig, HubertConfig, Wav2Vec2Config, WavLMConfig

    classes = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig,
               "data2vec-audio": Data2VecAudioConfig}
    extra = {"data2vec-audio": dict(num_conv_pos_embeddings=4, conv_pos_kernel_size=4)}.get(family, {})
    if family != "data2vec-audio":
        extra = dict(feat_extract_norm=feat_extract_norm, do_stable_layer_norm=feat_extract_norm == "layer")
    settings = {**_TINY_ENCODER, **extra, **overrides}
    return classes[family](vocab_size=vocab_size, pad_token_id=0, **settings)


def save_tiny_ctc_teacher(directory: str | Path, family: str = "wav2vec2", *,
                          labels: Sequence[str] | None = None, feat_extract_norm: str = "layer",
                          pickle_only: bool = False, seed: int = 0, **overrides) -> Path:
    """Save a random tiny CTC teacher + Wav2Vec2Processor into ``directory`` and return it.

    ``labels`` default to ``Vocabulary.default()``; ``feat_extract_norm="group"`` makes a wav2vec2-base-like
    model fed without an attention mask; ``pickle_only`` leaves only pytorch_model.bin.
    """
    from transformers import (
        AutoModelForCTC,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Processor,
    )

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = Vocabulary(tuple(labels)) if labels is not None else Vocabulary.default()
    vocab.save(directory / "vocab.json")
    torch.manual_seed(seed)
    config = tiny_ctc_config(family, len(vocab), feat_extract_norm, **overrides)
    AutoModelForCTC.from_config(config).save_pretrained(directory)
    tokenizer = Wav2Vec2CTCTokenizer(str(directory / "vocab.json"))
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=feat_extract_norm == "layer")
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(directory)
    if pickle_only:
        _to_pickle(directory)
    return directory


def _to_pickle(directory: Path) -> None:
    from safetensors.torch import load_file

    torch.save(load_file(directory / "model.safetensors"), directory / "pytorch_model.bin")
    (directory / "model.safetensors").unlink()


def tiny_whisper_tokenizer():
    """A WhisperTokenizer over the byte alphabet's letters plus WHISPER_WORDS, then Whisper's specials."""
    from transformers import WhisperTokenizer

    tokens = [*"abcdefghijklmnopqrstuvwxyz", *WHISPER_WORDS]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    tokenizer = WhisperTokenizer(vocab=vocab, merges=[], pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": list(WHISPER_SPECIALS[1:])})
    return tokenizer


def save_tiny_whisper_teacher(directory: str | Path, *, max_source_positions: int = 50,
                              max_target_positions: int = 10, encoder_layers: int = 2, seed: int = 0) -> Path:
    """Save a random tiny Whisper teacher + WhisperProcessor into ``directory`` and return it.

    The encoder window is ``max_source_positions`` frames of 20 ms (50 -> 1 s; hub checkpoints: 1500 -> 30 s).
    The generation config looks like a hub multilingual one: language/task tokens, special tokens suppressed.
    """
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    directory = Path(directory)
    tokenizer = tiny_whisper_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in WHISPER_SPECIALS}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=16, d_model=16, encoder_layers=encoder_layers, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_source_positions=max_source_positions, max_target_positions=max_target_positions,
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, bos_token_id=eot)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    # Built directly (not from_model_config, whose marker makes from_pretrained drop the extra keys).
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, bos_token_id=eot,
        max_length=max_target_positions, is_multilingual=True, lang_to_id={"<|en|>": ids["<|en|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], begin_suppress_tokens=[eot],
        suppress_tokens=sorted(i for token, i in ids.items() if token != "<|endoftext|>"))
    model.save_pretrained(directory)
    chunk_s = max_source_positions * 2 * 160 / 16_000
    extractor = WhisperFeatureExtractor(feature_size=16, chunk_length=chunk_s)
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(directory)
    return directory
