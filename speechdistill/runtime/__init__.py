"""On-device runtime for exported bundles: numpy + onnxruntime, no torch (see ``bundle.py`` for the layout)."""

from .bundle import BundleInfo, OnnxCTCModel, greedy_text, read_bundle
from .fbank import FbankOptions, fbank
from .recognizer import BundleRecognizer, read_audio

__all__ = ["BundleInfo", "BundleRecognizer", "FbankOptions", "OnnxCTCModel", "fbank", "greedy_text", "read_audio",
           "read_bundle"]
