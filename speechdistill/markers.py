"""The ``speechdistill.json`` marker every directory the package writes carries.

It tells tools what a directory holds (a teacher, a student, a bundle, a cache, a corpus) so that the
wrong kind is refused with a clear error instead of failing deep inside a loader.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import SAMPLE_RATE_HZ, __version__
from .io import atomic_write_text

MARKER_NAME = "speechdistill.json"
KINDS = ("teacher", "student", "bundle", "cache", "corpus", "run")


@dataclass(frozen=True)
class Marker:
    """What a directory written by speechdistill holds."""

    kind: str
    version: str = __version__
    vocabulary: tuple[str, ...] | None = None
    sample_rate: int = SAMPLE_RATE_HZ
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown marker kind {self.kind!r}; expected one of {', '.join(KINDS)}")


def write_marker(directory: str | Path, marker: Marker) -> Path:
    """Write ``directory/speechdistill.json`` atomically and return its path."""
    path = Path(directory) / MARKER_NAME
    payload = asdict(marker)
    if payload["vocabulary"] is not None:
        payload["vocabulary"] = list(payload["vocabulary"])
    atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
    return path


def read_marker(directory: str | Path) -> Marker | None:
    """The directory's marker, or None when it has none. A hub-style HF model dir has none."""
    path = Path(directory) / MARKER_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        vocab = data.get("vocabulary")
        return Marker(kind=data["kind"], version=data.get("version", "?"),
                      vocabulary=tuple(vocab) if vocab is not None else None,
                      sample_rate=int(data.get("sample_rate", SAMPLE_RATE_HZ)), extra=data.get("extra", {}))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed marker: {exc}") from exc


def directory_kind(directory: str | Path) -> str:
    """The kind of a model directory: its marker's kind, or 'teacher' for an unmarked HF model dir."""
    directory = Path(directory)
    marker = read_marker(directory)
    if marker is not None:
        return marker.kind
    if (directory / "config.json").is_file():
        return "teacher"
    raise ValueError(f"{directory}: neither a speechdistill directory ({MARKER_NAME}) nor a Hugging Face "
                     "model directory (config.json)")


def require_kind(directory: str | Path, *kinds: str) -> str:
    """Raise a clear error unless ``directory`` holds one of ``kinds``; return the kind found."""
    kind = directory_kind(directory)
    if kind not in kinds:
        raise ValueError(f"{directory}: holds a {kind}, expected {' or '.join(kinds)}")
    return kind
