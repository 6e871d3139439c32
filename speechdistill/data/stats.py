"""What a manifest holds: hours, utterances, speakers, vocabulary and the spread of durations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SkipReport
from .manifests import read_manifest
from .readers import DEFAULT_VOCAB
from .records import Utterance
from .validate import save_skip_report, skip_report_path

HISTOGRAM_BINS = 10
BAR_WIDTH = 40  # characters for the most populated histogram bin

Histogram = tuple[tuple[float, float, int], ...]  # (low_s, high_s, count) per bin


@dataclass(frozen=True)
class ManifestStats:
    """Figures for one manifest. Durations are in seconds; ``characters`` excludes the space."""

    path: Path
    utterances: int
    labelled: int
    hours: float
    speakers: int | None  # None when the manifest names no speakers
    distinct_words: int
    characters: str
    outside_vocab: str  # characters the default vocabulary cannot spell
    min_duration_s: float
    mean_duration_s: float
    max_duration_s: float
    histogram: Histogram
    skipped: int = 0
    skip_report: Path | None = None


def manifest_stats(path: str | Path, unlabelled: bool = False, skip_bad: bool = False) -> ManifestStats:
    """Read any manifest :func:`read_manifest` accepts (header checks only, no decoding) and describe it.

    Bad entries raise a one-line DataError, or with ``skip_bad`` are counted and written to
    ``<manifest>.skipped.jsonl``. Transcripts are not checked against a vocabulary here; characters the
    default vocabulary lacks are listed in ``outside_vocab`` instead.
    """
    report = SkipReport("skip" if skip_bad else "raise")
    utterances = read_manifest(path, labelled=not unlabelled, report=report, vocab=None)
    if skip_bad:
        save_skip_report(report, path)
    report_path = skip_report_path(path) if len(report) else None
    return describe(utterances, Path(path), skipped=len(report), skip_report=report_path)


def describe(utterances: Sequence[Utterance], path: Path, skipped: int = 0,
             skip_report: Path | None = None) -> ManifestStats:
    """The :class:`ManifestStats` of already-read ``utterances``."""
    durations = np.array([u.duration_s for u in utterances], dtype=np.float64)
    texts = [u.text for u in utterances if u.text is not None]
    chars = {c for t in texts for c in t if c != " "}
    speakers = {u.speaker for u in utterances if u.speaker is not None}
    return ManifestStats(
        path=path, utterances=len(utterances), labelled=len(texts), hours=float(durations.sum()) / 3600,
        speakers=len(speakers) if speakers else None, distinct_words=len({w for t in texts for w in t.split()}),
        characters="".join(sorted(chars)), outside_vocab="".join(sorted(DEFAULT_VOCAB.unknown_chars("".join(chars)))),
        min_duration_s=float(durations.min()) if len(durations) else 0.0,
        mean_duration_s=float(durations.mean()) if len(durations) else 0.0,
        max_duration_s=float(durations.max()) if len(durations) else 0.0,
        histogram=duration_histogram(durations), skipped=skipped, skip_report=skip_report)


def duration_histogram(durations_s: Sequence[float] | np.ndarray, bins: int = HISTOGRAM_BINS) -> Histogram:
    """About ``bins`` equal bins of a round width (1, 2, 2.5 or 5 x 10^k s) covering min..max."""
    durations = np.asarray(durations_s, dtype=np.float64)
    if durations.size == 0:
        return ()
    low, high = float(durations.min()), float(durations.max())
    width = _round_width((high - low) / bins if high > low else max(high, 1e-3) / bins)
    start = math.floor(low / width) * width
    count = max(1, math.ceil(round((high - start) / width, 9)))
    edges = np.round(start + width * np.arange(count + 1), 9)  # 1.8, not 1.8000000000000003
    counts, _ = np.histogram(durations, bins=edges)
    return tuple((float(edges[i]), float(edges[i + 1]), int(c)) for i, c in enumerate(counts))


def _round_width(raw: float) -> float:
    scale = 10 ** math.floor(math.log10(raw))
    return next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= raw * (1 - 1e-9))


def format_stats(stats: ManifestStats) -> str:
    """A readable multi-line description with an ASCII histogram of durations."""
    unlabelled = stats.utterances - stats.labelled
    lines = [
        f"manifest      {stats.path}",
        f"utterances    {stats.utterances:,}" + (f" ({unlabelled:,} unlabelled)" if unlabelled else ""),
        f"audio         {stats.hours:.2f} h" + (f" ({stats.hours * 60:.1f} min)" if stats.hours < 1 else ""),
        f"speakers      {stats.speakers:,}" if stats.speakers is not None else "speakers      not given",
        f"words         {stats.distinct_words:,} distinct",
        f"characters    {len(stats.characters)}: {stats.characters}",
    ]
    if stats.outside_vocab:
        lines.append(f"              not in the default vocabulary: {' '.join(stats.outside_vocab)}")
    lines.append(f"duration      min {stats.min_duration_s:.2f} s, mean {stats.mean_duration_s:.2f} s, "
                 f"max {stats.max_duration_s:.2f} s")
    lines.extend(_histogram_lines(stats.histogram))
    if stats.skipped:
        where = f"; reasons in {stats.skip_report}" if stats.skip_report else ""
        lines.append(f"skipped       {stats.skipped:,} bad entr{'y' if stats.skipped == 1 else 'ies'}{where}")
    return "\n".join(lines)


def _histogram_lines(histogram: Histogram) -> list[str]:
    if not histogram:
        return []
    most = max(count for _, _, count in histogram) or 1
    decimals = 0 if all(float(lo).is_integer() and float(hi).is_integer() for lo, hi, _ in histogram) else 2
    lines = []
    for low, high, count in histogram:
        bar = "#" * (math.ceil(count / most * BAR_WIDTH) if count else 0)
        lines.append(f"  {low:6.{decimals}f} - {high:6.{decimals}f} s |{bar:<{BAR_WIDTH}}| {count:,}")
    return lines
