"""Lexicons for beam search, built from training transcripts, in flashlight-text's format.

One line per word: the word, then its spelling in the model's labels separated by spaces, ending in the
word delimiter (``cat c a t |``). Words are the distinct words of the normalised transcripts, sorted.
The lexicon restricts beam search to words seen in training, so build it from *training* text: a
lexicon from the test references would hide every out-of-vocabulary error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..data.errors import DataError
from ..data.manifests import manifest_kind, read_manifest
from ..io import atomic_write_text
from ..text import WORD_DELIMITER, Vocabulary, normalize_text

LEXICON_FILE = "lexicon.txt"


def transcripts(source: Iterable[str] | str | Path) -> list[str]:
    """Normalised transcripts from a manifest path (anything ``read_manifest`` reads) or an iterable of texts."""
    if isinstance(source, (str, Path)):
        return [u.text for u in read_manifest(source, vocab=None) if u.text]
    return [normalize_text(text) for text in source]


def build_lexicon(source: Iterable[str] | str | Path, path: str | Path, *, labels: Sequence[str] | None = None,
                  delimiter: str = WORD_DELIMITER) -> Path:
    """Write the lexicon of ``source``'s words to ``path`` and return ``path``.

    source: a manifest path or an iterable of transcripts (normalised here with ``normalize_text``).
    labels: the model's output labels (default: the package's character vocabulary). A letter the labels
    lack is spelled in upper case when that exists (capital-letter checkpoints); words that still cannot
    be spelled are left out, since flashlight refuses a lexicon with unknown tokens.
    Raises ValueError when no word can be spelled.
    """
    labels = tuple(labels) if labels is not None else Vocabulary.default().labels
    if delimiter not in labels:
        raise ValueError(f"the labels have no word delimiter {delimiter!r}; a lexicon needs one")
    words = sorted({w for text in transcripts(source) for w in text.split()})
    known = set(labels)
    lines = []
    for word in words:
        spelled = [c if c in known else c.upper() for c in word]
        if all(c in known for c in spelled):
            lines.append(f"{word} {' '.join(spelled)} {delimiter}\n")
    if not lines:
        raise ValueError(f"no word of the {len(words)} in the transcripts can be spelled in the model's labels")
    return atomic_write_text(path, "".join(lines))


def is_manifest(path: str | Path) -> bool:
    """True when ``path`` is a manifest ``read_manifest`` reads (JSONL file or manifest folder)."""
    try:
        manifest_kind(path)
    except DataError:
        return False
    return True


def resolve_lexicon(choice: str, model: str | Path, labels: Sequence[str], workdir: str | Path, *,
                    delimiter: str = WORD_DELIMITER) -> tuple[Path | None, str]:
    """The lexicon file for ``--lexicon CHOICE`` and a note on where it came from.

    'none': no lexicon. 'auto': the model directory's ``lexicon.txt``, else one built from the training
    manifest its marker records (``extra.train_manifest``), else none. Any other value is a path: a
    manifest (its transcripts are spelled into ``workdir/lexicon.txt``) or a ready lexicon file.
    """
    if choice == "none":
        return None, "none"
    if choice == "auto":
        return _auto_lexicon(Path(model).expanduser(), labels, Path(workdir), delimiter)
    path = Path(choice).expanduser()
    if is_manifest(path):
        built = build_lexicon(path, Path(workdir) / LEXICON_FILE, labels=labels, delimiter=delimiter)
        return built, f"built from {path}"
    if not path.is_file():
        raise ValueError(f"--lexicon {choice}: neither 'auto', 'none', a lexicon file nor a manifest")
    return path, str(path)


def _auto_lexicon(model: Path, labels: Sequence[str], workdir: Path, delimiter: str) -> tuple[Path | None, str]:
    from ..markers import read_marker

    if not model.is_dir():
        return None, "none (auto: a hub model has no lexicon)"
    if (model / LEXICON_FILE).is_file():
        return model / LEXICON_FILE, str(model / LEXICON_FILE)
    marker = read_marker(model)
    train = (marker.extra or {}).get("train_manifest") if marker is not None else None
    if train and Path(train).exists():
        built = build_lexicon(train, workdir / LEXICON_FILE, labels=labels, delimiter=delimiter)
        return built, f"built from {train}"
    return None, f"none (auto: no {LEXICON_FILE} in the model directory and no training manifest recorded)"
