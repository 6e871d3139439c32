"""Word timestamps from CTC log-probabilities by forced alignment (``torchaudio.functional.forced_align``).

The transcript is spelled in the model's labels with the word delimiter between words, the best CTC path
that emits exactly that label sequence is found (Viterbi), and each word spans from the first frame of
its first label to the end of the last frame of its last label. Times are frame index x frame period,
so their resolution is one frame (20 ms for wav2vec2-family models, 40 ms for 4x-subsampled students).
torchaudio's aligner can pick a worse path where two path scores tie exactly (pytorch/audio#4221); real
model outputs practically never tie, hand-made matrices with equal off-peak values do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..text import WORD_DELIMITER


@dataclass(frozen=True)
class WordTimestamp:
    """One aligned word: start and end in seconds from the start of the audio, and its mean label probability."""

    word: str
    start_s: float
    end_s: float
    score: float


def spell_words(text: str, labels: Sequence[str]) -> list[list[int]]:
    """Label ids for each word of ``text``; letters missing from ``labels`` fall back to their upper case.

    Upper-case fallback serves checkpoints whose labels are capitals (wav2vec2-base-960h) while the
    package's transcripts are lower case. A character the labels cannot spell raises ValueError.
    """
    index = {label: i for i, label in enumerate(labels)}
    words = []
    for word in text.split():
        ids = []
        for char in word:
            label_id = index.get(char, index.get(char.upper()))
            if label_id is None:
                raise ValueError(f"cannot align {word!r}: the model has no label for {char!r}")
            ids.append(label_id)
        words.append(ids)
    return words


def word_timestamps(log_probs: torch.Tensor, text: str, labels: Sequence[str], frame_period_ms: float, *,
                    blank_id: int = 0, delimiter: str = WORD_DELIMITER) -> list[WordTimestamp]:
    """Align ``text`` to one utterance's CTC ``log_probs`` and return the words with their times.

    log_probs: (frames, labels) log-probabilities of the valid frames only (cut padding off first).
    The delimiter label goes between words when the model has one. An empty ``text`` gives [].
    Raises ValueError when the text needs more frames than there are (each label one frame, plus one
    blank between repeated labels).
    """
    from torchaudio.functional import forced_align, merge_tokens

    words = spell_words(text, labels)
    if not words:
        return []
    sep = [labels.index(delimiter)] if delimiter in labels else []
    targets = [i for n, ids in enumerate(words) for i in (sep if n else []) + ids]
    emissions = log_probs.detach().to("cpu", torch.float32)[None]
    try:
        path, scores = forced_align(emissions, torch.tensor([targets], dtype=torch.int32), blank=blank_id)
    except RuntimeError as exc:
        raise ValueError(f"cannot align {len(targets)} labels to {emissions.shape[1]} frames: {exc}") from None
    spans = merge_tokens(path[0], scores[0].exp(), blank=blank_id)
    if len(spans) != len(targets):  # the Viterbi path emits every target label exactly once
        raise ValueError(f"alignment produced {len(spans)} label spans for {len(targets)} labels")
    return _group_words(text.split(), [len(ids) for ids in words], spans, len(sep), frame_period_ms)


def _group_words(words: list[str], sizes: list[int], spans: list, sep: int,
                 frame_period_ms: float) -> list[WordTimestamp]:
    """Cut the label spans (one per target label, in order) back into words."""
    seconds = frame_period_ms / 1000.0
    out, pos = [], 0
    for n, (word, size) in enumerate(zip(words, sizes)):
        pos += sep if n else 0
        own = spans[pos:pos + size]
        pos += size
        score = sum(s.score for s in own) / len(own)
        out.append(WordTimestamp(word, own[0].start * seconds, own[-1].end * seconds, float(score)))
    return out
