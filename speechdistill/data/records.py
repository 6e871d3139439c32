"""The one record type for an utterance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    """One utterance: where its audio is, how long it is, and (when labelled) what was said.

    ``text`` is None for unlabelled audio; ``duration_s`` is in seconds.
    """

    id: str
    audio_path: Path
    duration_s: float
    text: str | None = None
    speaker: str | None = None

    @property
    def labelled(self) -> bool:
        return self.text is not None
