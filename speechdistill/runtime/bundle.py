"""Exported bundles read and run with numpy + onnxruntime only (no torch, no torchaudio).

A bundle directory (written by ``speechdistill export``):

================  ==================================================================================
model.onnx        fp32 graph; inputs ``x`` (N, T, 80) raw Kaldi log-mel fbank and ``x_lens`` (N,) int64
                  frames; outputs ``log_probs`` (N, T', V) and ``log_probs_len`` (N,) int64, T' ≈ T / 4
                  (sherpa-onnx's zipformer-CTC model class: the runtime computes the fbank itself)
model.int8.onnx   the same graph with MatMul/Gemm weights in int8 (dynamic quantisation); optional
tokens.txt        ``symbol id`` per line, sherpa-onnx format: blank ``<blk>``, word delimiter ``▁``
speechdistill.json  the marker (kind "bundle"): vocabulary, fbank options, files, sizes, provenance
README.md         model card
================  ==================================================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..markers import read_marker, require_kind
from .fbank import SHERPA_PADDING_VALUE, FbankOptions, fbank

FP32_NAME = "model.onnx"
INT8_NAME = "model.int8.onnx"
TOKENS_NAME = "tokens.txt"
CARD_NAME = "README.md"
BLANK_TOKEN = "<blk>"
SPACE_TOKEN = "\u2581"  # ▁: the only symbol sherpa-onnx turns into a space
PRECISIONS = ("int8", "fp32")
INPUT_NAMES = ("x", "x_lens")
OUTPUT_NAMES = ("log_probs", "log_probs_len")


def tokens_from_labels(labels: tuple[str, ...], blank_id: int, delimiter: str) -> list[str]:
    """The bundle's token symbols: the blank renamed ``<blk>``, the word delimiter ``▁``, the rest unchanged."""
    symbols = [BLANK_TOKEN if i == blank_id else SPACE_TOKEN if s == delimiter else s for i, s in enumerate(labels)]
    bad = [s for s in symbols if not s or any(c.isspace() for c in s)]
    if bad:
        raise ValueError(f"token symbols may not be empty or contain whitespace (tokens.txt is 'symbol id'): {bad}")
    return symbols


def read_tokens(path: Path) -> list[str]:
    """Symbols of a sherpa-onnx ``tokens.txt`` by id; a malformed line is an error naming it."""
    table: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(f"{path}:{number}: expected 'symbol id', got {line!r}")
        table[int(parts[1])] = parts[0]
    if sorted(table) != list(range(len(table))):
        raise ValueError(f"{path}: token ids must be 0..{len(table) - 1} without gaps")
    return [table[i] for i in range(len(table))]


def _fbank_options(extra: dict, where: Path) -> FbankOptions:
    stored = extra.get("fbank")
    if not isinstance(stored, dict):
        raise ValueError(f"{where}: bundle marker has no 'fbank' options")
    known = {f.name for f in fields(FbankOptions)}
    return FbankOptions(**{k: v for k, v in stored.items() if k in known})


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle directory declares; :func:`read_bundle` checks every file it names exists."""

    path: Path
    tokens: tuple[str, ...]
    fbank: FbankOptions
    frame_period_ms: float
    files: dict[str, str]  # precision -> ONNX file name
    extra: dict

    def model_file(self, precision: str) -> Path:
        if precision not in self.files:
            raise ValueError(f"{self.path}: no {precision} model in this bundle (has {', '.join(self.files)})")
        return self.path / self.files[precision]


def read_bundle(path: str | Path) -> BundleInfo:
    """Read and check a bundle directory; a missing file is an error naming it."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such bundle directory")
    require_kind(path, "bundle")
    marker = read_marker(path)
    extra = dict(marker.extra)
    files = {p: n for p, n in dict(extra.get("files", {})).items() if p in PRECISIONS}
    if not files:
        raise ValueError(f"{path}: bundle marker lists no model files")
    for name in (*files.values(), TOKENS_NAME):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path}: bundle is missing {name}")
    tokens = tuple(read_tokens(path / TOKENS_NAME))
    return BundleInfo(path, tokens, _fbank_options(extra, path), float(extra.get("frame_period_ms", 40.0)),
                      files, extra)


class OnnxCTCModel:
    """One bundle model in an onnxruntime session: waveforms in, CTC log-probabilities out.

    threads: intra-op threads (1 for on-device style single-thread timing; None: onnxruntime's default).
    """

    def __init__(self, bundle: str | Path | BundleInfo, precision: str = "int8", *, threads: int | None = None):
        import onnxruntime as ort

        self.info = bundle if isinstance(bundle, BundleInfo) else read_bundle(bundle)
        if "streaming" in self.info.extra:
            raise ValueError(f"{self.info.path}: a streaming bundle (per-chunk graph); run it with "
                             "speechdistill.runtime.StreamingRecognizer or `speechdistill transcribe --stream`")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        self.precision = precision
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.info.model_file(precision)), options,
                                            providers=["CPUExecutionProvider"])

    @property
    def size_bytes(self) -> int:
        return os.path.getsize(self.info.model_file(self.precision))

    def features(self, waveforms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Padded (N, T, bins) fbank and (N,) frame counts, padded as sherpa-onnx pads (log 1e-10)."""
        feats = [fbank(w, self.info.fbank) for w in waveforms]
        lengths = np.array([len(f) for f in feats], np.int64)
        batch = np.full((len(feats), max(int(lengths.max()), 1), self.info.fbank.num_bins), SHERPA_PADDING_VALUE,
                        np.float32)
        for row, f in enumerate(feats):
            batch[row, : len(f)] = f
        return batch, lengths

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(N, T', V) float32 log-probabilities and (N,) int64 valid frames for mono 16 kHz signals."""
        x, x_lens = self.features(waveforms)
        log_probs, lengths = self.session.run(list(OUTPUT_NAMES), {"x": x, "x_lens": x_lens})
        return log_probs, lengths.astype(np.int64)


def greedy_text(log_probs: np.ndarray, length: int, tokens: tuple[str, ...]) -> str:
    """Best-path CTC text: argmax, collapse repeats, drop the blank and <...> specials, ``▁`` -> space."""
    ids = log_probs[:length].argmax(-1)
    keep = np.ones(len(ids), bool)
    keep[1:] = ids[1:] != ids[:-1]
    pieces = []
    for i in ids[keep]:
        symbol = tokens[int(i)]
        if symbol == BLANK_TOKEN or (symbol.startswith("<") and symbol.endswith(">")):
            continue
        pieces.append(" " if symbol == SPACE_TOKEN else symbol)
    return " ".join("".join(pieces).split())
