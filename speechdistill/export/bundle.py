"""``export_bundle``: a student directory -> an on-device bundle (layout in ``speechdistill.runtime.bundle``).

The bundle is assembled in a scratch folder beside ``out`` and moved into place when complete, so an
interrupted export never leaves a half-written bundle; the fp32 graph is checked against PyTorch on a
batch whose lengths differ from the export example before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io import atomic_write_text
from ..markers import Marker, directory_kind, read_marker, write_marker
from ..runtime.bundle import (
    CARD_NAME,
    FP32_NAME,
    INPUT_NAMES,
    INT8_NAME,
    OUTPUT_NAMES,
    TOKENS_NAME,
    tokens_from_labels,
)
from ..students.conformer import SUBSAMPLING_FACTOR, ConformerCTC
from ..students.io import load_student
from ..text import WORD_DELIMITER
from .onnx import DEFAULT_OPSET, add_metadata, check_exportable, export_fp32, quantize_int8

PARITY_LENGTHS = (173, 61, 412)  # feature frames of the check batch (none equals the export example's)
PARITY_TOLERANCE = 1e-3  # max |log-prob difference| accepted between PyTorch and the fp32 graph


@dataclass(frozen=True)
class ExportResult:
    path: Path
    num_parameters: int
    sizes_mb: dict[str, float]
    max_abs_diff: float  # fp32 graph vs PyTorch on the check batch


def _check_source(student_dir: Path) -> None:
    if not student_dir.is_dir():
        raise FileNotFoundError(f"{student_dir}: no such student directory")
    kind = directory_kind(student_dir)  # ValueError for a directory speechdistill cannot identify
    if kind != "student":
        hint = " (teachers are not exported: distil a student first)" if kind == "teacher" else ""
        raise ValueError(f"{student_dir}: holds a {kind}, not a student{hint}")


def _check_target(out: Path) -> None:
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and getattr(read_marker(out), "kind", None) != "bundle"):
        raise FileExistsError(f"{out}: exists and is not a bundle; choose another --out")


def parity_check(student: ConformerCTC, onnx_path: Path) -> float:
    """Max |log-prob| difference between ``student`` and the ONNX graph on valid frames of a check batch."""
    import onnxruntime as ort

    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor(PARITY_LENGTHS)
    x = torch.randn(len(PARITY_LENGTHS), int(lengths.max()), student.config.num_mel_bins, generator=generator)
    with torch.no_grad():
        out = student.encode(x, lengths)
        reference = torch.log_softmax(out.logits, -1).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    log_probs, out_lengths = session.run(list(OUTPUT_NAMES), dict(zip(INPUT_NAMES, (x.numpy(), lengths.numpy()))))
    if not np.array_equal(out_lengths, out.lengths.numpy()):
        raise RuntimeError(f"exported graph gives lengths {out_lengths.tolist()}, PyTorch {out.lengths.tolist()}")
    mask = np.arange(log_probs.shape[1])[None, :] < out_lengths[:, None]
    return float(np.abs(log_probs - reference)[mask].max())


def measure_rtf(onnx_path: Path, seconds: float = 5.0, repeats: int = 5) -> float:
    """Single-thread real-time factor of a graph on a ``seconds`` clip, numpy fbank included (median of repeats)."""
    import time

    import onnxruntime as ort

    from ..runtime.fbank import fbank

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    t = np.arange(int(16_000 * seconds)) / 16_000
    signal = (0.1 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)

    def once() -> float:
        started = time.perf_counter()
        features = fbank(signal)
        session.run(None, {"x": features[None], "x_lens": np.array([len(features)], np.int64)})
        return time.perf_counter() - started

    once()  # warm-up
    return float(np.median([once() for _ in range(repeats)]) / seconds)


def onnx_metadata(student: ConformerCTC, vocab_size: int, extra: dict) -> dict[str, str]:
    """ONNX metadata: sherpa-onnx's zipformer-CTC class reads only the graph (vocabulary size from the
    output shape, subsampling fixed at 4); ``model_type`` is the tag tools use to pick that class."""
    return {"model_type": "zipformer2_ctc", "version": "1", "model_author": "speechdistill",
            "comment": "speechdistill Conformer-CTC student (sherpa-onnx zipformer-CTC compatible)",
            "vocab_size": str(vocab_size), "subsampling_factor": str(SUBSAMPLING_FACTOR),
            "sample_rate": str(student.fbank.sample_rate_hz), "feature_dim": str(student.config.num_mel_bins),
            "frame_shift_ms": str(student.fbank.frame_shift_ms), "speechdistill_family": extra.get("family", ""),
            "num_parameters": str(extra.get("num_parameters", ""))}


def export_bundle(student_dir: str | Path, out: str | Path, *, int8: bool = True, opset: int = DEFAULT_OPSET,
                  per_channel: bool = True) -> ExportResult:
    """Export the student in ``student_dir`` into the bundle directory ``out`` (replacing a bundle there)."""
    student_dir, out = Path(student_dir), Path(out)
    _check_source(student_dir)
    _check_target(out)
    loaded = load_student(student_dir)
    student = loaded.model.float().eval()
    check_exportable(student)
    marker = read_marker(student_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        export_fp32(student, scratch / FP32_NAME, opset=opset)
        diff = parity_check(student, scratch / FP32_NAME)
        if diff > PARITY_TOLERANCE:
            raise RuntimeError(f"exported graph differs from PyTorch by {diff:.2e} > {PARITY_TOLERANCE} (log-prob)")
        metadata = onnx_metadata(student, len(loaded.vocab), marker.extra)
        files = finish_graphs(scratch, metadata, loaded.vocab, int8=int8, per_channel=per_channel)
        sizes = {p: os.path.getsize(scratch / name) / 1e6 for p, name in files.items()}
        rtf = {p: measure_rtf(scratch / name) for p, name in files.items()}
        facts = _distillation_facts(student_dir)
        extra = {**marker.extra, "input": "kaldi fbank", "fbank": dataclasses.asdict(student.fbank),
                 "files": files, "sizes_mb": sizes, "rtf_1thread_5s": rtf, "opset": opset, "int8_per_channel": per_channel,
                 "parity_max_abs_diff": diff, "source_student": str(student_dir),
                 "sherpa_onnx_model_class": "zipformer_ctc", "distillation": facts}
        publish(scratch, out, bundle_card(extra, metadata), Marker(
            kind="bundle", vocabulary=loaded.vocab.labels, sample_rate=student.fbank.sample_rate_hz, extra=extra))
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(out, int(marker.extra.get("num_parameters", 0)), sizes, diff)


def finish_graphs(scratch: Path, metadata: dict[str, str], vocab, *, int8: bool, per_channel: bool) -> dict[str, str]:
    """Metadata into ``scratch``'s fp32 graph and its int8 copy (when asked for), then tokens.txt; returns
    precision -> file name."""
    add_metadata(scratch / FP32_NAME, metadata)
    files = {"fp32": FP32_NAME}
    if int8:
        quantize_int8(scratch / FP32_NAME, scratch / INT8_NAME, per_channel=per_channel)
        add_metadata(scratch / INT8_NAME, metadata)
        files["int8"] = INT8_NAME
    symbols = tokens_from_labels(vocab.labels, vocab.blank_id, WORD_DELIMITER)
    atomic_write_text(scratch / TOKENS_NAME, "".join(f"{s} {i}\n" for i, s in enumerate(symbols)))
    return files


def publish(scratch: Path, out: Path, card: str, marker: Marker) -> None:
    """Write the card and marker into ``scratch``, then rename it into place as ``out`` (replacing it)."""
    atomic_write_text(scratch / CARD_NAME, card)
    write_marker(scratch, marker)
    if out.exists():
        shutil.rmtree(out)
    os.replace(scratch, out)


def _distillation_facts(student_dir: Path) -> dict:
    path = student_dir / "distillation.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def bundle_card(extra: dict, metadata: dict[str, str]) -> str:
    """The bundle's README.md: what it is, how to run it, and where it came from."""
    facts = extra.get("distillation") or {}
    wer = "\n".join(f"| {split} | {value * 100:.1f}% |" for split, value in facts.get("wer", {}).items())
    teachers = ", ".join(f"{n} ({s})" for n, s in facts.get("teachers", {}).items()) or "none (plain CTC)"
    sizes = ", ".join(f"{p}: {mb:.2f} MB" for p, mb in extra["sizes_mb"].items())
    rtf = ", ".join(f"{p}: {value:.4f}" for p, value in extra["rtf_1thread_5s"].items())
    fbank = extra["fbank"]
    return f"""---
library_name: speechdistill
tags: [automatic-speech-recognition, ctc, onnx, sherpa-onnx, speechdistill]
---
# {extra.get('family', 'conformer')} CTC student ({extra.get('size', 'custom')}), ONNX bundle

| | |
|---|---|
| parameters | {extra.get('num_parameters', 0) / 1e6:.2f} M |
| files | {sizes} |
| output frame period | {extra.get('frame_period_ms', 40):g} ms (4x subsampling of 10 ms fbank) |
| ONNX opset | {extra['opset']} |
| int8 | dynamic, MatMul/Gemm weights only, {'per channel' if extra['int8_per_channel'] else 'per tensor'} |
| PyTorch vs fp32 graph | max log-prob difference {extra['parity_max_abs_diff']:.1e} at export |
| real-time factor | {rtf} (one thread, 5 s clip, fbank included, measured at export on the exporting machine) |
| teachers | {teachers} |
| recipe | {facts.get('recipe', 'unknown')} |

WER of the PyTorch student when it was saved (greedy decoding; the bundle's own figures come from
`speechdistill bench`):

| split | WER |
|---|---|
{wer or '| (not measured) | |'}

## Inputs and outputs

`x`: (N, T, {fbank['num_bins']}) Kaldi log-mel fbank, `x_lens`: (N,) int64 frames; outputs `log_probs`
(N, T', {metadata['vocab_size']}) and `log_probs_len` (N,) int64. Features: {fbank['sample_rate_hz']} Hz,
{fbank['num_bins']} bins, {fbank['frame_length_ms']:g} ms povey windows every {fbank['frame_shift_ms']:g} ms,
pre-emphasis {fbank['preemphasis']}, DC removed, mel {fbank['low_freq_hz']:g} Hz to Nyquist
{fbank['high_freq_hz']:g} Hz, snip_edges {str(fbank['snip_edges']).lower()}, dither 0, samples in [-1, 1]:
kaldi-native-fbank's defaults as sherpa-onnx sets them. Normalisation is inside the graph.

## Run it

sherpa-onnx (Python here; the same files on Android/iOS through its Kotlin/Swift APIs):

```python
import sherpa_onnx, soundfile as sf
recognizer = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(model="model.int8.onnx", tokens="tokens.txt")
samples, rate = sf.read("audio.wav", dtype="float32")
stream = recognizer.create_stream(); stream.accept_waveform(rate, samples)
recognizer.decode_stream(stream); print(stream.result.text)
```

onnxruntime alone (no torch): `speechdistill transcribe --model . audio.wav`, or
`speechdistill.runtime.BundleRecognizer(".").transcribe("audio.wav")`.
"""
