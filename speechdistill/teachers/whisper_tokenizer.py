"""A small byte-level BPE tokenizer with Whisper's special tokens, built offline from training texts.

The token ids follow Whisper's layout so that ``WhisperTokenizer`` and Whisper ``generate`` work
unchanged: the BPE tokens come first, then ``<|endoftext|>``, ``<|startoftranscript|>``, one token per
Whisper language (``<|en|>`` right after ``<|startoftranscript|>``, as ``WhisperTokenizer.prefix_tokens``
assumes), ``<|translate|>``, ``<|transcribe|>``, ``<|startoflm|>``, ``<|startofprev|>``, ``<|nospeech|>``
and ``<|notimestamps|>`` last (generate takes ``no_timestamps - 1`` as the no-speech token). There are
no timestamp tokens: the teacher never predicts timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import WhisperTokenizer
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from ..text import normalize_text

DEFAULT_BPE_VOCAB_SIZE = 512  # byte alphabet (256) + merges; the specials come on top
EOT = "<|endoftext|>"
SOT = "<|startoftranscript|>"
TRANSLATE = "<|translate|>"
TRANSCRIBE = "<|transcribe|>"
START_OF_LM = "<|startoflm|>"
START_OF_PREV = "<|startofprev|>"
NO_SPEECH = "<|nospeech|>"
NO_TIMESTAMPS = "<|notimestamps|>"
LANGUAGE_TOKENS = tuple(f"<|{code}|>" for code in LANGUAGES)
# Whisper's order after <|endoftext|>; the ids are assigned in this order.
EXTRA_SPECIAL_TOKENS = (SOT, *LANGUAGE_TOKENS, TRANSLATE, TRANSCRIBE, START_OF_LM, START_OF_PREV, NO_SPEECH,
                        NO_TIMESTAMPS)
BYTE_SPACE = "Ġ"  # how the byte-level pre-tokenizer spells a space


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the special tokens the training step and ``generate`` need."""

    eot: int
    sot: int
    english: int
    translate: int
    transcribe: int
    prev_sot: int
    no_speech: int
    no_timestamps: int
    space: int

    @classmethod
    def of(cls, tokenizer: WhisperTokenizer) -> SpecialIds:
        """Look the ids up in ``tokenizer``."""
        ids = tokenizer.convert_tokens_to_ids
        return cls(ids(EOT), ids(SOT), ids("<|en|>"), ids(TRANSLATE), ids(TRANSCRIBE), ids(START_OF_PREV),
                   ids(NO_SPEECH), ids(NO_TIMESTAMPS), ids(BYTE_SPACE))

    @property
    def prefix(self) -> tuple[int, ...]:
        """The decoder prompt of an English transcript without timestamps."""
        return self.sot, self.english, self.transcribe, self.no_timestamps

    def suppressed(self, vocab_size: int) -> list[int]:
        """Special tokens ``generate`` must never emit (all but ``<|endoftext|>``)."""
        return list(range(self.sot, vocab_size))


def spoken_form(text: str) -> str:
    """The string a transcript is tokenised as: normalised, with Whisper's leading space."""
    return " " + normalize_text(text)


def train_bpe(texts: Sequence[str], vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE (vocab, merges) trained on the spoken form of ``texts``; deterministic."""
    if not texts:
        raise ValueError("cannot build the Whisper tokenizer: no training transcripts")
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet):
        raise ValueError(f"bpe_vocab_size must be at least {len(alphabet)} (the byte alphabet), got {vocab_size}")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, special_tokens=[],
                                  show_progress=False)
    bpe.train_from_iterator(sorted(spoken_form(t) for t in texts), trainer)
    model = json.loads(bpe.to_str())["model"]
    return dict(model["vocab"]), [tuple(pair) for pair in model["merges"]]


def build_whisper_tokenizer(texts: Sequence[str], bpe_vocab_size: int = DEFAULT_BPE_VOCAB_SIZE,
                            model_max_length: int = 448) -> WhisperTokenizer:
    """A ``WhisperTokenizer`` (English, transcribe, no timestamps) over a BPE trained on ``texts``."""
    vocab, merges = train_bpe(texts, bpe_vocab_size)
    return WhisperTokenizer(vocab=vocab, merges=merges, pad_token=EOT, extra_special_tokens=list(EXTRA_SPECIAL_TOKENS),
                            language="en", task="transcribe", predict_timestamps=False,
                            model_max_length=model_max_length)


def _content(tokenizer: WhisperTokenizer) -> tuple[dict[str, int], list]:
    return tokenizer.get_vocab(), json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]


def tokenizer_for_run(directory: Path, texts: Sequence[str], bpe_vocab_size: int = DEFAULT_BPE_VOCAB_SIZE,
                      model_max_length: int = 448) -> WhisperTokenizer:
    """Build the tokenizer and keep it in ``directory``; a later build (a resumed run) must match it.

    A saved tokenizer that differs from the one built now (other texts, other ``bpe_vocab_size``) is an
    error: checkpoints in the run are tied to the saved one.
    """
    tokenizer = build_whisper_tokenizer(texts, bpe_vocab_size, model_max_length)
    if (directory / "tokenizer.json").is_file():
        saved = WhisperTokenizer.from_pretrained(directory)
        if _content(saved) != _content(tokenizer):
            raise ValueError(f"{directory} holds a Whisper tokenizer built from other training texts or settings; "
                             "resume with the original data, or remove it (or use a new out_dir) to start afresh")
        return saved
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    return tokenizer
