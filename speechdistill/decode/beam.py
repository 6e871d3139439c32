"""CTC beam search with N-best lists, on torchaudio's flashlight-text decoder.

Lexicon-free (any character sequence) or with a lexicon file (words restricted to it), optionally with a
KenLM language model (ARPA or binary). The same wrapper serves teachers (N-best lists for sequence-level
distillation) and evaluation (beam decoding of students).

Scores are total log scores, never length-normalised: the acoustic log-probability of the hypothesis
(summed over the CTC alignments the beam kept when ``log_add`` is on, else of the best alignment) plus
``lm_weight`` times the LM log-probability plus word/silence insertion terms. Hypotheses that render to
the same text (e.g. the same letters with and without a trailing ``|``, or a prefix that ends in a blank
and one that does not) are merged by log-sum-exp of their scores, so an N-best entry's score is the total
mass the beam found for that transcript; posteriors are the softmax of the N kept scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..text import BLANK, UNK, WORD_DELIMITER


def is_special_label(label: str) -> bool:
    """Angle-bracketed labels (<pad>, <s>, </s>, <unk>, <unusedN>) are special: they spell nothing."""
    return len(label) > 2 and label[0] == "<" and label[-1] == ">"


@dataclass(frozen=True)
class Hypothesis:
    """One N-best entry: text (words joined by spaces), total log score, posterior within its N-best list."""

    text: str
    score: float
    posterior: float
    tokens: tuple[int, ...] = ()


@dataclass(frozen=True)
class BeamSearchOptions:
    """Beam search settings (flashlight-text names and defaults, except ``log_add`` and the token names).

    ``lexicon``: file of ``word t o k e n s`` lines (spelled in the model's labels, each spelling ending in
    the silence token, e.g. ``cat c a t |``); None decodes lexicon-free. ``lm``: KenLM file (.arpa or
    .bin); a word LM with a lexicon, a token-level LM without. ``nbest``: default N-best size; at most
    ``beam_size`` hypotheses exist, so N above it returns fewer.
    """

    beam_size: int = 50
    nbest: int = 1
    beam_size_token: int | None = None
    beam_threshold: float = 50.0
    lexicon: str | None = None
    lm: str | None = None
    lm_weight: float = 2.0
    word_score: float = 0.0
    sil_score: float = 0.0
    unk_score: float = -math.inf
    log_add: bool = True
    blank_token: str = BLANK
    sil_token: str = WORD_DELIMITER
    unk_word: str = UNK

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.nbest < 1:
            raise ValueError(f"beam_size and nbest must be >= 1, got {self.beam_size} and {self.nbest}")
        for name in ("lexicon", "lm"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"beam search {name} file not found: {path}")


def _logaddexp(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def merge_nbest(candidates: Iterable[tuple[str, float, Sequence[int]]], nbest: int) -> list[Hypothesis]:
    """Deduplicate ``(text, score, tokens)`` candidates into the ``nbest`` best distinct transcripts.

    Candidates with the same text are merged by log-sum-exp of their scores (their probability mass adds
    up) and keep the tokens of the best-scoring member. Returned best first; posteriors are the softmax
    of the kept scores, so they sum to 1 over the returned list.
    """
    merged: dict[str, tuple[float, float, tuple[int, ...]]] = {}  # text -> (total, best member, its tokens)
    for text, score, tokens in candidates:
        total, best, best_tokens = merged.get(text, (-math.inf, -math.inf, ()))
        if score > best:
            best, best_tokens = score, tuple(int(t) for t in tokens)
        merged[text] = (_logaddexp(total, score), best, best_tokens)
    ranked = sorted(merged.items(), key=lambda item: item[1][0], reverse=True)[:nbest]
    if not ranked:
        return []
    top = ranked[0][1][0]
    weights = [math.exp(total - top) for _, (total, _, _) in ranked]
    norm = sum(weights)
    return [Hypothesis(text, total, w / norm, tokens) for (text, (total, _, tokens)), w in zip(ranked, weights)]


class BeamSearchDecoder:
    """N-best CTC beam search over ``labels`` (label ``i`` = output column ``i``; blank and silence among them).

    ``decode`` returns deduplicated N-best lists (see ``merge_nbest``); ``candidates`` returns every final
    hypothesis of the beam, for callers that normalise text before merging.
    """

    def __init__(self, labels: Sequence[str], options: BeamSearchOptions | None = None):
        from torchaudio.models.decoder import ctc_decoder  # needs flashlight-text; imported only when used

        self.labels = tuple(labels)
        self.options = options or BeamSearchOptions()
        missing = [t for t in (self.options.blank_token, self.options.sil_token) if t not in self.labels]
        if missing:
            raise ValueError(f"beam search: labels lack {', '.join(map(repr, missing))}; labels are {self.labels}")
        o = self.options
        self._decoder = ctc_decoder(
            lexicon=o.lexicon, tokens=list(self.labels), lm=o.lm, nbest=o.beam_size, beam_size=o.beam_size,
            beam_size_token=o.beam_size_token, beam_threshold=o.beam_threshold, lm_weight=o.lm_weight,
            word_score=o.word_score, unk_score=o.unk_score, sil_score=o.sil_score, log_add=o.log_add,
            blank_token=o.blank_token, sil_token=o.sil_token, unk_word=o.unk_word)
        # the blank and special tokens (<s>, </s>, <unk>, <unusedN>, ...) write nothing
        self._dropped = {o.blank_token, *filter(is_special_label, self.labels)}

    def tokens_to_text(self, tokens: Iterable[int]) -> str:
        """Words for collapsed label ids: special tokens dropped, the silence token splits words."""
        chars = (self.labels[i] for i in tokens)
        sil = self.options.sil_token
        return " ".join("".join(" " if c == sil else c for c in chars if c not in self._dropped).split())

    def candidates(self, log_probs: torch.Tensor,
                   lengths: torch.Tensor | None = None) -> list[list[tuple[str, float, tuple[int, ...]]]]:
        """Every final beam hypothesis per item as ``(text, score, tokens)``, best first, not deduplicated.

        log_probs: (batch, frames, labels) log-probabilities; lengths: (batch,) valid frames.
        """
        if log_probs.ndim != 3 or log_probs.shape[-1] != len(self.labels):
            raise ValueError(f"log_probs must be (batch, frames, {len(self.labels)}), got {tuple(log_probs.shape)}")
        emissions = log_probs.detach().to("cpu", torch.float32).contiguous()
        if lengths is not None:
            lengths = lengths.detach().to("cpu", torch.int32)
        return [[(self._text(h), float(h.score), self._strip(h.tokens.tolist())) for h in hyps]
                for hyps in self._decoder(emissions, lengths)]

    def _strip(self, tokens: list[int]) -> tuple[int, ...]:
        # flashlight brackets every lexicon-free hypothesis with (unscored) silence tokens
        sil = self.labels.index(self.options.sil_token)
        while tokens and tokens[0] == sil:
            tokens = tokens[1:]
        while tokens and tokens[-1] == sil:
            tokens = tokens[:-1]
        return tuple(tokens)

    def _text(self, hyp) -> str:
        # With a lexicon flashlight reports the words; lexicon-free only the (collapsed) tokens.
        return " ".join(hyp.words) if self.options.lexicon else self.tokens_to_text(hyp.tokens.tolist())

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor | None = None, nbest: int | None = None,
               normalize: Callable[[str], str] | None = None) -> list[list[Hypothesis]]:
        """Deduplicated N-best lists per item, best first, with posteriors over each list.

        ``normalize`` maps each hypothesis text (e.g. ``normalize_text``) before identical texts are merged.
        """
        n = nbest or self.options.nbest
        fix = normalize or (lambda text: text)
        return [merge_nbest(((fix(t), s, tok) for t, s, tok in hyps), n) for hyps in self.candidates(log_probs, lengths)]
