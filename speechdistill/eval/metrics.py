"""WER and CER with jiwer 4 after the shared normaliser, so every figure in the package is comparable.

WER is a fraction in code and JSON (0.084) and a percentage only in tables (8.4%).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jiwer

from ..text import normalize_text

Normalizer = Callable[[str], str]


@dataclass(frozen=True)
class ErrorCounts:
    """Word-level edit counts summed over a corpus; ``wer`` = errors / reference words."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        return self.errors / self.reference_words if self.reference_words else float("nan")


def _prepare(refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer) -> tuple[list[str], list[str]]:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        raise ValueError("no utterances to score (an empty set has no WER)")
    refs_n = [normalizer(r) for r in refs]
    hyps_n = [normalizer(h) for h in hyps]
    # jiwer rejects empty references; a reference that normalises to nothing cannot be scored.
    empty = [i for i, r in enumerate(refs_n) if not r]
    if empty:
        raise ValueError(f"{len(empty)} reference(s) are empty after normalisation (first at index {empty[0]})")
    return refs_n, hyps_n


def error_counts(refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer = normalize_text) -> ErrorCounts:
    """Corpus-level word edit counts after normalising both sides."""
    refs_n, hyps_n = _prepare(refs, hyps, normalizer)
    out = jiwer.process_words(refs_n, hyps_n)
    ref_words = sum(len(r.split()) for r in refs_n)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, ref_words)


def wer(refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer = normalize_text) -> float:
    """Corpus word error rate (a fraction) after normalising references and hypotheses."""
    refs_n, hyps_n = _prepare(refs, hyps, normalizer)
    return float(jiwer.wer(refs_n, hyps_n))


def cer(refs: Sequence[str], hyps: Sequence[str], normalizer: Normalizer = normalize_text) -> float:
    """Corpus character error rate (a fraction) after normalising references and hypotheses."""
    refs_n, hyps_n = _prepare(refs, hyps, normalizer)
    return float(jiwer.cer(refs_n, hyps_n))
