"""Bad-input handling shared by every reader: raise a one-line error, or skip and write a report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..io import atomic_write_text

ErrorPolicy = Literal["raise", "skip"]


class DataError(ValueError):
    """Bad input. ``where`` names the file (and line) and ``reason`` says what is wrong."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass
class SkipReport:
    """Collects what was skipped under ``on_error: skip`` so that nothing is dropped silently."""

    policy: ErrorPolicy = "raise"
    skipped: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {self.policy!r}")

    def handle(self, error: DataError) -> None:
        """Raise ``error`` under the raise policy; record it under the skip policy."""
        if self.policy == "raise":
            raise error
        self.skipped.append({"where": error.where, "reason": error.reason})

    def __len__(self) -> int:
        return len(self.skipped)

    def write(self, path: str | Path) -> Path:
        """Write the report as JSONL (one skipped item per line)."""
        lines = "".join(json.dumps(item) + "\n" for item in self.skipped)
        return atomic_write_text(path, lines)

    def summary(self) -> str:
        return f"skipped {len(self.skipped)} bad item(s)"
