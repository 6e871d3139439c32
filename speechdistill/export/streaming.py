"""Streaming students -> ONNX with the signature sherpa-onnx's online WeNet-CTC model class runs.

``sherpa_onnx.OnlineRecognizer.from_wenet_ctc(model, tokens, chunk_size=C, num_left_chunks=L)`` reads the
metadata ``head``, ``num_blocks``, ``output_size``, ``cnn_module_kernel``, ``right_context``,
``subsampling_factor`` and ``vocab_size`` (sherpa-onnx/csrc/online-wenet-ctc-model.cc), and feeds the graph's
inputs by position, every chunk:

==========================  =======================================================================
x                           (1, (C - 1) * 4 + right_context + 1, 80) float32 Kaldi fbank of samples
                            scaled to [-32768, 32768) (``normalize_samples`` is false for WeNet CTC)
offset                      (1,) int64: cache size + output frames so far (unused here: positions are
                            relative, see ``students.layers``)
required_cache_size         (1,) int64: C * L (unused: the cache shape fixes it)
attn_cache                  (num_blocks, head, C * L, output_size / head * 2) float32, zeros at start
conv_cache                  (num_blocks, 1, output_size, cnn_module_kernel - 1) float32, zeros at start
attn_mask                   (1, 1, C * L + C) bool: False on cache slots holding no frame yet
==========================  =======================================================================

and reads three outputs: (1, C, V) log-probs and the two caches for the next chunk. The graph is exported
with these fixed shapes, so the C and L a recogniser is created with must be the ones exported (both are
in the metadata and the bundle card; sherpa-onnx's defaults are C = 16, L = 4).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..markers import Marker, read_marker
from ..runtime.bundle import FP32_NAME
from ..students.conformer import SUBSAMPLING_FACTOR, ConformerCTC
from ..students.io import load_student
from ..students.streaming import (
    INT16_SCALE,
    SUBSAMPLING_RIGHT_CONTEXT,
    StreamState,
    chunk_input_frames,
    init_state,
    stream_features,
)
from .bundle import PARITY_TOLERANCE, finish_graphs, publish
from .bundle import _check_source as check_source
from .bundle import _check_target as check_target
from .bundle import _distillation_facts as distillation_facts
from .onnx import DEFAULT_OPSET, strip_debug_info

STREAMING_INPUT_NAMES = ("x", "offset", "required_cache_size", "attn_cache", "conv_cache", "attn_mask")
STREAMING_OUTPUT_NAMES = ("log_probs", "next_attn_cache", "next_conv_cache")


class StreamingCTCGraph(nn.Module):
    """The per-chunk signature sherpa-onnx's online WeNet-CTC class feeds (see the module docstring)."""

    def __init__(self, student: ConformerCTC):
        super().__init__()
        self.student = student

    def forward(self, x: torch.Tensor, offset: torch.Tensor, required_cache_size: torch.Tensor,
                attn_cache: torch.Tensor, conv_cache: torch.Tensor,
                attn_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.student.forward_chunk(x, attn_cache, conv_cache, attn_mask)


def check_streamable(student: nn.Module, chunk_frames: int, left_chunks: int) -> None:
    """ValueError unless ``student`` is a streaming Conformer and the chunk settings are valid."""
    if not isinstance(student, ConformerCTC) or not student.config.streaming:
        raise ValueError("--streaming export needs a streaming Conformer student (student.overrides.streaming: "
                         "true); this one is full-context: export it without --streaming")
    if chunk_frames < 1 or left_chunks < 1:
        raise ValueError(f"chunk size and left chunks must be >= 1, got {chunk_frames} and {left_chunks} "
                         "(sherpa-onnx keeps a cache of chunk_size * num_left_chunks frames)")


def example_inputs(student: ConformerCTC, chunk_frames: int, left_chunks: int) -> tuple[torch.Tensor, ...]:
    """Zero-state inputs of the first chunk, with sherpa-onnx's shapes and dtypes."""
    state = init_state(student, chunk_frames, left_chunks)
    x = torch.randn(1, chunk_input_frames(chunk_frames), student.config.num_mel_bins)
    cache = chunk_frames * left_chunks
    return (x, torch.tensor([state.offset], dtype=torch.int64), torch.tensor([cache], dtype=torch.int64),
            state.attn_cache, state.conv_cache, state.cache_mask(chunk_frames))


def export_streaming_fp32(student: ConformerCTC, path: str | Path, chunk_frames: int, left_chunks: int, *,
                          opset: int = DEFAULT_OPSET) -> Path:
    """Write the fp32 per-chunk graph of ``student`` to ``path`` (fixed shapes for C, L)."""
    check_streamable(student, chunk_frames, left_chunks)
    path = Path(path)
    graph = StreamingCTCGraph(student.float().eval()).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(graph, example_inputs(student, chunk_frames, left_chunks), dynamo=True,
                                    opset_version=opset, input_names=list(STREAMING_INPUT_NAMES),
                                    output_names=list(STREAMING_OUTPUT_NAMES), verbose=False, optimize=True)
    program.save(str(path), external_data=False)
    strip_debug_info(path)
    _check_signature(path)
    return path


def _check_signature(path: Path) -> None:
    """The exporter drops inputs the graph never reads; sherpa-onnx feeds all six by position, so put them back."""
    import onnx

    model = onnx.load(str(path))
    names = [i.name for i in model.graph.input]
    if tuple(names) == STREAMING_INPUT_NAMES:
        return
    if "offset" not in names or "required_cache_size" not in names:
        missing = [n for n in ("offset", "required_cache_size") if n not in names]
        for name in missing:
            model.graph.input.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64, [1]))
        by_name = {i.name: i for i in model.graph.input}
        ordered = [by_name[n] for n in STREAMING_INPUT_NAMES]
        del model.graph.input[:]
        model.graph.input.extend(ordered)
        onnx.save(model, str(path))
    names = [i.name for i in onnx.load(str(path)).graph.input]
    if tuple(names) != STREAMING_INPUT_NAMES:
        raise RuntimeError(f"exported streaming graph has inputs {names}, expected {list(STREAMING_INPUT_NAMES)}")


def streaming_metadata(student: ConformerCTC, vocab_size: int, chunk_frames: int, left_chunks: int,
                       extra: dict) -> dict[str, str]:
    """ONNX metadata: the keys sherpa-onnx's online WeNet-CTC class reads, and what a reader needs to feed it."""
    config = student.config
    return {"model_type": "wenet_ctc", "version": "1", "model_author": "speechdistill",
            "comment": "streaming speechdistill Conformer-CTC student (sherpa-onnx online WeNet-CTC compatible)",
            "head": str(config.num_heads), "num_blocks": str(config.num_layers), "output_size": str(config.d_model),
            "cnn_module_kernel": str(config.conv_kernel), "right_context": str(SUBSAMPLING_RIGHT_CONTEXT),
            "subsampling_factor": str(SUBSAMPLING_FACTOR), "vocab_size": str(vocab_size),
            "chunk_size": str(chunk_frames), "left_chunks": str(left_chunks),
            "sample_rate": str(student.fbank.sample_rate_hz), "feature_dim": str(config.num_mel_bins),
            "normalize_samples": "0", "speechdistill_family": extra.get("family", ""),
            "num_parameters": str(extra.get("num_parameters", ""))}


def streaming_parity(student: ConformerCTC, onnx_path: Path, chunk_frames: int, left_chunks: int,
                     chunks: int = 2 * 6 + 1) -> float:
    """Max |log-prob| difference between the ONNX graph run chunk by chunk and PyTorch's masked full sequence,
    over enough chunks (default 13) that the cache fills and rolls."""
    import onnxruntime as ort

    generator = torch.Generator().manual_seed(0)
    frames = chunk_input_frames(chunk_frames) + (chunks - 1) * chunk_frames * SUBSAMPLING_FACTOR
    features = torch.randn(frames, student.config.num_mel_bins, generator=generator) * 3 + 10
    with torch.no_grad():
        reference = stream_features(student, features, chunk_frames, left_chunks).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inputs = [t.numpy() for t in example_inputs(student, chunk_frames, left_chunks)]
    window, shift = chunk_input_frames(chunk_frames), chunk_frames * SUBSAMPLING_FACTOR
    outputs = []
    state = init_state(student, chunk_frames, left_chunks)
    attn_cache, conv_cache, offset = inputs[3], inputs[4], state.offset
    for index in range(chunks):
        mask = StreamState(state.attn_cache, state.conv_cache, offset).cache_mask(chunk_frames).numpy()
        x = features[None, index * shift: index * shift + window].numpy()
        log_probs, attn_cache, conv_cache = session.run(list(STREAMING_OUTPUT_NAMES), dict(zip(
            STREAMING_INPUT_NAMES, (x, np.array([offset], np.int64), inputs[2], attn_cache, conv_cache, mask)))
        )
        outputs.append(log_probs[0])
        offset += log_probs.shape[1]
    return float(np.abs(np.concatenate(outputs) - reference).max())


@dataclass(frozen=True)
class StreamingExportResult:
    path: Path
    chunk_frames: int
    left_chunks: int
    sizes_mb: dict[str, float]
    max_abs_diff: float  # fp32 graph chunk by chunk vs PyTorch's masked full sequence


def export_streaming_bundle(student_dir: str | Path, out: str | Path, *, chunk_frames: int = 16,
                            left_chunks: int = 4, int8: bool = True, opset: int = DEFAULT_OPSET,
                            per_channel: bool = True) -> StreamingExportResult:
    """Export the streaming student in ``student_dir`` into the bundle directory ``out`` (replacing a bundle
    there): model.onnx, model.int8.onnx, tokens.txt, README.md and the marker (``extra.streaming``)."""
    student_dir, out = Path(student_dir), Path(out)
    check_source(student_dir)
    check_target(out)
    loaded = load_student(student_dir)
    student = loaded.model.float().eval()
    check_streamable(student, chunk_frames, left_chunks)
    marker = read_marker(student_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        export_streaming_fp32(student, scratch / FP32_NAME, chunk_frames, left_chunks, opset=opset)
        diff = streaming_parity(student, scratch / FP32_NAME, chunk_frames, left_chunks)
        if diff > PARITY_TOLERANCE:
            raise RuntimeError(f"exported streaming graph differs from PyTorch by {diff:.2e} > {PARITY_TOLERANCE}")
        metadata = streaming_metadata(student, len(loaded.vocab), chunk_frames, left_chunks, marker.extra)
        files = finish_graphs(scratch, metadata, loaded.vocab, int8=int8, per_channel=per_channel)
        sizes = {p: os.path.getsize(scratch / name) / 1e6 for p, name in files.items()}
        streaming = {"chunk_frames": chunk_frames, "left_chunks": left_chunks, "sample_scale": INT16_SCALE,
                     "chunk_ms": chunk_frames * student.frame_period_ms, "right_context": SUBSAMPLING_RIGHT_CONTEXT,
                     "sherpa_onnx_model_class": "wenet_ctc"}
        extra = {**marker.extra, "input": "kaldi fbank", "fbank": dataclasses.asdict(student.fbank), "files": files,
                 "sizes_mb": sizes, "opset": opset, "int8_per_channel": per_channel, "parity_max_abs_diff": diff,
                 "source_student": str(student_dir), "streaming": streaming,
                 "sherpa_onnx_model_class": "wenet_ctc", "distillation": distillation_facts(student_dir)}
        publish(scratch, out, streaming_card(extra), Marker(
            kind="bundle", vocabulary=loaded.vocab.labels, sample_rate=student.fbank.sample_rate_hz, extra=extra))
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return StreamingExportResult(out, chunk_frames, left_chunks, sizes, diff)


def streaming_card(extra: dict) -> str:
    """The streaming bundle's README.md: what it is and how sherpa-onnx and speechdistill run it."""
    settings = extra["streaming"]
    chunk, left = settings["chunk_frames"], settings["left_chunks"]
    sizes = ", ".join(f"{p}: {mb:.2f} MB" for p, mb in extra["sizes_mb"].items())
    wer = "\n".join(f"| {split} | {value * 100:.1f}% |" for split, value in
                    (extra.get("distillation") or {}).get("wer", {}).items())
    return f"""---
library_name: speechdistill
tags: [automatic-speech-recognition, ctc, onnx, sherpa-onnx, streaming, speechdistill]
---
# Streaming {extra.get('family', 'conformer')} CTC student ({extra.get('size', 'custom')}), ONNX bundle

| | |
|---|---|
| parameters | {extra.get('num_parameters', 0) / 1e6:.2f} M |
| files | {sizes} |
| chunk | {chunk} frames of 40 ms = {settings['chunk_ms']:g} ms, plus 60 ms look-ahead |
| left context | {left} chunks |
| PyTorch vs fp32 graph | max log-prob difference {extra['parity_max_abs_diff']:.1e} at export, chunk by chunk |

WER of the PyTorch student when it was saved (greedy decoding at its own eval chunk size):

| split | WER |
|---|---|
{wer or '| (not measured) | |'}

## Run it

sherpa-onnx's online WeNet-CTC model class (the same files on Android/iOS); `chunk_size` and
`num_left_chunks` must be the exported ones:

```python
import sherpa_onnx
recognizer = sherpa_onnx.OnlineRecognizer.from_wenet_ctc(
    model="model.int8.onnx", tokens="tokens.txt", chunk_size={chunk}, num_left_chunks={left},
    enable_endpoint_detection=True)
stream = recognizer.create_stream()
# for each piece of 16 kHz float samples: stream.accept_waveform(16000, piece)
#     while recognizer.is_ready(stream): recognizer.decode_stream(stream)
#     print(recognizer.get_result(stream))
```

Without sherpa-onnx (numpy + onnxruntime, no torch): `speechdistill transcribe --stream --model . audio.wav`
(or `-` for raw 16-bit 16 kHz mono PCM on stdin), or `speechdistill.runtime.StreamingRecognizer(".")`.
Features: 80-bin Kaldi fbank of samples scaled to [-32768, 32768) (sherpa-onnx sets `normalize_samples`
false for WeNet-CTC models); normalisation is inside the graph.
"""
