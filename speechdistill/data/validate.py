"""Decode every file once to catch what a header cannot show (corrupt data, NaN/inf samples), and keep the
skip report beside the output it belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from .. import SAMPLE_RATE_HZ
from ..progress import progress_bar
from .audio import load_audio
from .errors import DataError, SkipReport
from .records import Utterance

PROGRESS_MIN_ITEMS = 200  # show a progress bar from this many files on
SKIP_REPORT_SUFFIX = ".skipped.jsonl"


def validate_audio(utterances: Sequence[Utterance], report: SkipReport | None = None, *,
                   sample_rate: int = SAMPLE_RATE_HZ, max_duration_s: float | None = None,
                   progress: bool | None = None, jobs: int = 1) -> list[Utterance]:
    """Decode each utterance's audio (``load_audio``) and return the ones that decode cleanly, in order.

    A corrupt, empty, non-finite or too long file raises a DataError naming it (``report`` None or
    policy 'raise') or is recorded in ``report``. ``progress`` None shows a progress bar for
    ``PROGRESS_MIN_ITEMS`` files or more; ``jobs`` > 1 decodes in threads (soundfile and torch release the GIL).
    """
    report = report if report is not None else SkipReport("raise")
    show = progress if progress is not None else len(utterances) >= PROGRESS_MIN_ITEMS
    check = partial(_decode_error, sample_rate=sample_rate, max_duration_s=max_duration_s)
    pool = ThreadPoolExecutor(jobs) if jobs > 1 else None
    errors = pool.map(check, utterances) if pool is not None else map(check, utterances)
    good = []
    try:
        for utt, error in zip(utterances, progress_bar(errors, total=len(utterances), disable=not show,
                                                       desc="checking audio", unit="file")):
            if error is None:
                good.append(utt)
            else:
                report.handle(error)
    finally:
        if pool is not None:  # under the raise policy, do not wait for the rest of the corpus
            pool.shutdown(cancel_futures=True)
    return good


def _decode_error(utt: Utterance, sample_rate: int, max_duration_s: float | None) -> DataError | None:
    try:
        load_audio(utt.audio_path, sample_rate, max_duration_s)
    except DataError as exc:
        return DataError(exc.where, f"{exc.reason} (utterance {utt.id})")
    return None


def skip_report_path(output: str | Path) -> Path:
    """Where the skip report for ``output`` goes: ``<output>.skipped.jsonl`` beside it."""
    output = Path(output)
    return output.with_name(output.name + SKIP_REPORT_SUFFIX)


def save_skip_report(report: SkipReport, output: str | Path) -> str:
    """Write ``report`` beside ``output`` and return a one-line summary to print.

    With nothing skipped, a stale report from an earlier run is removed so that it cannot mislead.
    """
    path = skip_report_path(output)
    if len(report) == 0:
        path.unlink(missing_ok=True)
        return report.summary()
    report.write(path)
    return f"{report.summary()}; reasons in {path}"
