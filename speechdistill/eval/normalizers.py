"""The text normalisers scoring can apply to references and hypotheses before counting errors.

``default`` is the package's own spoken-form normaliser (``speechdistill.text.normalize_text``), the one
every figure in the package uses. ``whisper`` is OpenAI Whisper's English normaliser as shipped in
transformers (``EnglishTextNormalizer``), for figures comparable with published Whisper-style results.
Its British -> American spelling table (``normalizer.json``, ``english.json`` in openai/whisper) is not
part of the transformers wheel; it is read from a file when one is given (a hub Whisper checkpoint
carries it as ``normalizer.json``) and otherwise left out, which only affects words such as
"colour"/"color". Everything else (contractions, numbers, currencies, fillers) works offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..text import normalize_text

Normalizer = Callable[[str], str]
NORMALIZERS = ("default", "whisper")
SPELLING_FILE = "normalizer.json"  # what hub Whisper checkpoints call the spelling table


def whisper_normalizer(spelling: str | Path | None = None) -> Normalizer:
    """Whisper's ``EnglishTextNormalizer``; ``spelling`` is a JSON British -> American table (None: none)."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    mapping: dict[str, str] = {}
    if spelling is not None:
        try:
            mapping = json.loads(Path(spelling).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{spelling}: not a readable spelling table ({exc})") from None
    return EnglishTextNormalizer(mapping)


def get_normalizer(name: str, spelling: str | Path | None = None) -> Normalizer:
    """The normaliser called ``name`` (one of NORMALIZERS); ``spelling`` only applies to ``whisper``."""
    if name == "default":
        return normalize_text
    if name == "whisper":
        return whisper_normalizer(spelling)
    raise ValueError(f"unknown normalizer {name!r}; choose one of {', '.join(NORMALIZERS)}")


def find_spelling_table(model_dir: str | Path) -> Path | None:
    """The model directory's ``normalizer.json`` (hub Whisper checkpoints ship one), else None."""
    path = Path(model_dir) / SPELLING_FILE
    return path if path.is_file() else None
