"""Per-utterance error counts, the most frequent substitutions and a bootstrap interval for WER.

All of it comes from one jiwer 4 word alignment of the normalised corpus, so the per-utterance counts
add up to exactly the corpus figures of :func:`speechdistill.eval.metrics.error_counts`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import jiwer
import numpy as np

from ..text import normalize_text
from .metrics import ErrorCounts, Normalizer, _prepare

TOP_SUBSTITUTIONS = 20
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class UtteranceScore:
    """One utterance's normalised reference and hypothesis and its word edit counts."""

    ref: str
    hyp: str
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def ref_words(self) -> int:
        return len(self.ref.split())


@dataclass(frozen=True)
class CorpusScore:
    """Per-utterance scores, in input order, and every substituted ``(ref word, hyp word)`` pair with its count."""

    utterances: tuple[UtteranceScore, ...]
    substitution_pairs: tuple[tuple[str, str, int], ...]  # most frequent first, ties alphabetical

    @property
    def counts(self) -> ErrorCounts:
        """Corpus totals."""
        u = self.utterances
        return ErrorCounts(sum(x.substitutions for x in u), sum(x.deletions for x in u),
                           sum(x.insertions for x in u), sum(x.ref_words for x in u))

    def top_substitutions(self, n: int = TOP_SUBSTITUTIONS) -> list[tuple[str, str, int]]:
        """The ``n`` most frequent ``(ref word, hyp word, count)`` substitutions."""
        return list(self.substitution_pairs[:n])


def score_corpus(refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer = normalize_text) -> CorpusScore:
    """Align every normalised (reference, hypothesis) pair with jiwer and count edits per utterance.

    Raises ValueError for an empty corpus or a reference that is empty after normalisation.
    """
    refs_n, hyps_n = _prepare(refs, hyps, normalizer)
    out = jiwer.process_words(refs_n, hyps_n)
    pairs: Counter[tuple[str, str]] = Counter()
    scores = []
    for ref, hyp, ref_words, hyp_words, chunks in zip(refs_n, hyps_n, out.references, out.hypotheses, out.alignments):
        edits = {"substitute": 0, "delete": 0, "insert": 0}
        for chunk in chunks:
            if chunk.type in ("substitute", "delete"):
                edits[chunk.type] += chunk.ref_end_idx - chunk.ref_start_idx
            elif chunk.type == "insert":
                edits["insert"] += chunk.hyp_end_idx - chunk.hyp_start_idx
            if chunk.type == "substitute":  # substituted runs have equal lengths on both sides
                pairs.update(zip(ref_words[chunk.ref_start_idx:chunk.ref_end_idx],
                                 hyp_words[chunk.hyp_start_idx:chunk.hyp_end_idx]))
        scores.append(UtteranceScore(ref, hyp, edits["substitute"], edits["delete"], edits["insert"]))
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return CorpusScore(tuple(scores), tuple((r, h, c) for (r, h), c in ranked))


def bootstrap_wer_ci(errors_per_utt: Sequence[int], words_per_utt: Sequence[int], n: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval for corpus WER, resampling whole utterances with replacement.

    Each of the ``n`` resamples draws ``m`` utterance indices with ``rng.integers(0, m, size=m)`` from
    ``numpy.random.default_rng(seed)`` and takes sum(errors) / sum(words) over them; the interval is the
    2.5th and 97.5th percentiles (numpy's default linear interpolation) of those ``n`` WERs. Resampling
    utterances, not words, keeps the errors of one utterance together, as they are in reality correlated.
    """
    errors = np.asarray(errors_per_utt, dtype=np.float64)
    words = np.asarray(words_per_utt, dtype=np.float64)
    if errors.shape != words.shape or errors.ndim != 1 or errors.size == 0:
        raise ValueError("bootstrap needs two equally long, non-empty per-utterance sequences")
    if words.min() <= 0:
        raise ValueError("every utterance needs at least one reference word")
    rng = np.random.default_rng(seed)
    m = errors.size
    wers = np.empty(n)
    for i in range(n):  # one resample at a time: memory stays O(m) for large test sets
        idx = rng.integers(0, m, size=m)
        wers[i] = errors[idx].sum() / words[idx].sum()
    lo, hi = np.percentile(wers, [2.5, 97.5])
    return float(lo), float(hi)
