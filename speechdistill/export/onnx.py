"""Student -> ONNX graph (fp32) and its int8 twin.

Front end per family: the Conformer student takes raw 80-bin Kaldi fbank (``x``, ``x_lens``), the
inputs sherpa-onnx's zipformer-CTC model class feeds after computing kaldi-native-fbank itself, so
the graph holds only the per-utterance normalisation and the network (an FFT in the graph would
duplicate the runtime's features and leave sherpa-onnx unable to load it). Raw-waveform wav2vec2
students have no sherpa-onnx model class; they are refused here with that reason.

Exported with the dynamo exporter (``torch.onnx.export(dynamo=True)``, the default of current torch;
the TorchScript one is deprecated) and symbolic batch and time dimensions. Nothing in the Conformer
calls ``.item()``, so no length is frozen into the graph; ``export_bundle`` checks the graph against
PyTorch at lengths other than the example's before it writes anything.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from ..runtime.bundle import INPUT_NAMES, OUTPUT_NAMES
from ..students.conformer import ConformerCTC

DEFAULT_OPSET = 18
EXAMPLE_FRAMES = 300  # the export example's length; tests check other lengths
MIN_FRAMES = 9  # the shortest input with at least one output frame after 4x subsampling (and a real key)


class CTCGraph(nn.Module):
    """(x, x_lens) fbank -> (log_probs, log_probs_len): the exported signature of a Conformer student."""

    def __init__(self, student: ConformerCTC):
        super().__init__()
        self.student = student

    def forward(self, x: torch.Tensor, x_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.student.encode(x, x_lens)
        return torch.log_softmax(out.logits, dim=-1), out.lengths


def check_exportable(student: nn.Module) -> None:
    """ValueError unless ``student`` is a family this exporter handles."""
    if not isinstance(student, ConformerCTC):
        family = getattr(student, "family", type(student).__name__)
        raise ValueError(f"cannot export a {family!r} student: bundles hold Conformer-CTC students (fbank input, "
                         "the sherpa-onnx zipformer-CTC model class); raw-waveform students have no sherpa-onnx "
                         "model class to run them")
    if student.config.streaming:
        raise ValueError("this is a streaming student (its fbank reads int16-range samples, which sherpa-onnx feeds "
                         "only its WeNet-CTC models): export it with --streaming (speechdistill.export.streaming)")


def export_fp32(student: nn.Module, path: str | Path, *, opset: int = DEFAULT_OPSET) -> Path:
    """Write the fp32 ONNX graph of ``student`` to ``path`` (one file, weights inside)."""
    check_exportable(student)
    path = Path(path)
    graph = CTCGraph(student.float().eval()).eval()
    bins = student.config.num_mel_bins
    example = (torch.randn(2, EXAMPLE_FRAMES, bins), torch.tensor([EXAMPLE_FRAMES, EXAMPLE_FRAMES * 2 // 3]))
    batch, time = torch.export.Dim("N", min=1, max=256), torch.export.Dim("T", min=MIN_FRAMES, max=100_000)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(graph, example, dynamo=True, opset_version=opset, input_names=list(INPUT_NAMES),
                                    output_names=list(OUTPUT_NAMES), verbose=False, optimize=True,
                                    dynamic_shapes={"x": {0: batch, 1: time}, "x_lens": {0: batch}})
    program.save(str(path), external_data=False)
    strip_debug_info(path)
    return path


def strip_debug_info(path: str | Path) -> None:
    """Drop what only debugging reads (per-node source locations and names of the PyTorch modules,
    intermediate shape annotations, doc strings): ~0.4 MB per graph here, a third of a 0.3M-parameter
    model's file, and invisible to every runtime."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del model.graph.value_info[:]
    model.graph.doc_string = ""
    onnx.save(model, str(path))


def quantize_int8(fp32_path: str | Path, int8_path: str | Path, *, per_channel: bool = True) -> Path:
    """Dynamic int8 quantisation of MatMul/Gemm weights only (no ConvInteger: slow, and the convolutions
    are a small share of the weights), per output channel by default."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(int8_path), op_types_to_quantize=["MatMul", "Gemm"],
                     per_channel=per_channel, weight_type=QuantType.QInt8)
    return Path(int8_path)


def add_metadata(path: str | Path, metadata: dict[str, str]) -> None:
    """Set ONNX ``metadata_props`` (key -> str) on the model file in place."""
    import onnx

    model = onnx.load(str(path))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in metadata.items():
        entry = existing.get(key) or model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))
