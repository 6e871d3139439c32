"""Students -> on-device bundles: ONNX fp32 + int8, tokens.txt and metadata for sherpa-onnx and onnxruntime."""

from .bundle import ExportResult, export_bundle
from .onnx import CTCGraph, export_fp32, quantize_int8

__all__ = ["CTCGraph", "ExportResult", "export_bundle", "export_fp32", "quantize_int8"]
