"""What every manifest reader shares: the cheap per-utterance checks and the raise-or-skip collection.

Readers check what is cheap (the audio file exists, its header is readable, it has samples and is not
too long; the transcript is present and spellable). Decoding every file to find corrupt data or NaN
samples is left to :func:`speechdistill.data.validate.validate_audio`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ...text import Vocabulary, normalize_text
from ..audio import audio_duration_s
from ..errors import DataError, SkipReport
from ..records import Utterance

DEFAULT_VOCAB = Vocabulary.default()


@dataclass(frozen=True)
class Checks:
    """The cheap checks a reader applies to each entry (see the readers' ``labelled``/``vocab``/... args)."""

    labelled: bool = True
    vocab: Vocabulary | None = DEFAULT_VOCAB
    max_duration_s: float | None = None

    def transcript(self, text: object, where: str, missing: str = "missing 'text' field") -> str | None:
        """The normalised transcript, or None for unlabelled audio; DataError when it is unusable."""
        if text is None:
            if self.labelled:
                raise DataError(where, f"{missing} (pass labelled=False / --unlabelled for unlabelled audio)")
            return None
        if not isinstance(text, str):
            raise DataError(where, f"transcript must be a string, got {type(text).__name__}")
        text = normalize_text(text)
        unknown = self.vocab.unknown_chars(text) if self.vocab is not None else set()
        if unknown:
            chars = " ".join(repr(c) for c in sorted(unknown))
            raise DataError(where, f"transcript has characters outside the vocabulary: {chars} in {text!r}")
        return text

    def duration_s(self, audio_path: Path, where: str) -> float:
        """Duration from the audio header; DataError for a missing, unreadable, empty or too long file."""
        try:
            duration = audio_duration_s(audio_path)
        except DataError as exc:
            raise DataError(where, f"{exc.reason}: {audio_path}") from None
        if duration <= 0:
            raise DataError(where, f"empty audio (0 samples): {audio_path}")
        if self.max_duration_s is not None and duration > self.max_duration_s:
            raise DataError(where, f"audio is {duration:.1f} s, longer than the maximum "
                                   f"{self.max_duration_s:g} s: {audio_path}")
        return duration

    def utterance(self, uid: str, audio_path: Path, where: str, text: object,
                  speaker: object = None, missing: str = "missing 'text' field") -> Utterance:
        """Build a checked :class:`Utterance`; ``where`` names the manifest entry in any error."""
        duration = self.duration_s(audio_path, where)
        text = self.transcript(text, where, missing)
        return Utterance(uid, audio_path, duration, text, None if speaker is None else str(speaker))


def collect(builds: Iterable[tuple[str, Callable[[], Utterance]]], report: SkipReport | None) -> list[Utterance]:
    """Call each ``(where, build)``; a DataError it raises (or a repeated id) goes to ``report`` (None: raise).

    Errors raised by the iterable itself (a missing manifest, an unsupported layout) always propagate:
    they concern the whole manifest, not one entry.
    """
    report = report if report is not None else SkipReport("raise")
    utterances: list[Utterance] = []
    seen: dict[str, str] = {}  # id -> where it first appeared
    for where, build in builds:
        try:
            utt = build()
            if utt.id in seen:
                raise DataError(where, f"duplicate utterance id {utt.id!r} (first at {seen[utt.id]})")
        except DataError as exc:
            report.handle(exc)
            continue
        seen[utt.id] = where
        utterances.append(utt)
    return utterances


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; DataError naming the file when it is missing or not text."""
    if not path.is_file():
        raise DataError(str(path), "file not found")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def resolve(base: Path, audio_path: str) -> Path:
    """``audio_path`` as given when absolute, else relative to ``base`` (the manifest's folder)."""
    path = Path(audio_path).expanduser()
    return path if path.is_absolute() else base / path
