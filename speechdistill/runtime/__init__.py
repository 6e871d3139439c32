"""On-device runtime for exported bundles: numpy + onnxruntime, no torch (see ``bundle.py`` for the layout)."""

from .bundle import BundleInfo, OnnxCTCModel, greedy_text, read_bundle
from .fbank import FbankOptions, fbank
from .recognizer import BundleRecognizer, read_audio
from .streaming import EndpointRules, OnlineFbank, Segment, StreamingRecognizer

__all__ = ["BundleInfo", "BundleRecognizer", "EndpointRules", "FbankOptions", "OnlineFbank", "OnnxCTCModel", "Segment",
           "StreamingRecognizer", "fbank", "greedy_text", "read_audio", "read_bundle"]
