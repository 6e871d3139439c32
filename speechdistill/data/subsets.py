"""A fixed share of a training set that keeps its transcripts: the scarce-labels setting (say 10% transcribed,
the rest audio only), the same share for every method, seed and manifest order."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def labelled_ids(ids: Sequence[str], fraction: float) -> set[str]:
    """The ``round(fraction * len(ids))`` ids (at least one when ``fraction > 0``) that rank first by the sha256
    of the id: a subset fixed by the ids alone, so a run, its seeds and its cached teacher outputs agree on it."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    count = max(1, round(fraction * len(ids))) if ids else 0
    ranked = sorted(set(ids), key=lambda utt_id: hashlib.sha256(utt_id.encode("utf-8")).hexdigest())
    return set(ranked[:count])
