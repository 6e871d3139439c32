"""Runtimes: how a model file is opened and run for the benchmark, one small class per runtime.

A runtime turns a model path into a :class:`BenchModel`: a batch of 16 kHz waveforms in, normalised
text out, plus what the tables need (parameters, weights files) and a way to pin the thread count.
``torch-fp32`` runs teacher and student directories through ``speechdistill.load``; ``onnx-fp32`` and
``onnx-int8`` run exported bundles through the torch-free ``speechdistill.runtime`` (numpy fbank +
onnxruntime, one session per thread count so ``intra_op_num_threads`` is really applied);
``faster-whisper-int8`` runs a packaged Whisper (or a CTranslate2 directory) as an app would ship it.
A model path may be a packaged teacher name (``whisper-base``) instead of a directory.

Runtime modules import their heavy libraries only in ``preload``/``open``, so the memory probe's
baseline (see :mod:`speechdistill.bench.memory`) holds exactly the interpreter and those libraries.
"""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from ..threads import torch_threads

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".ort")


class BenchModel(Protocol):
    """A model as the benchmark drives it. ``num_parameters`` is None where it means nothing (PocketSphinx)."""

    sample_rate: int
    num_parameters: int | None
    max_duration_s: float | None
    parallel: bool  # False: single-stream engine; its RTFx is read off the one-thread run

    def transcribe(self, waveforms: list[np.ndarray]) -> list[str]:
        """Normalised text for one batch of mono float32 signals at ``sample_rate``."""
        ...

    def threads(self, n: int) -> contextlib.AbstractContextManager:
        """Run the enclosed calls on ``n`` threads (restored afterwards)."""
        ...

    def weights_files(self) -> list[Path]:
        """The files that hold the model's weights (what ships to the device)."""
        ...


class Runtime(Protocol):
    """Opens models for one runtime, e.g. ``torch-fp32``."""

    name: str

    def check(self, path: str) -> None:
        """Raise a clear error when ``path`` is not a model this runtime can open (before anything runs)."""
        ...

    def preload(self) -> None:
        """Import the runtime's libraries (the memory probe's baseline is taken after this)."""
        ...

    def open(self, path: str) -> BenchModel:
        """Load the model at ``path`` for CPU inference."""
        ...


def weights_files_in(directory: Path) -> list[Path]:
    """Every weights file (by suffix) directly in ``directory``."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def stored_dtypes(files: list[Path]) -> list[str]:
    """The tensor dtypes stored in the ``.safetensors`` files among ``files`` (read from their JSON headers)."""
    found = set()
    for path in files:
        if path.suffix == ".safetensors":
            with open(path, "rb") as stream:
                (size,) = struct.unpack("<Q", stream.read(8))
                header = json.loads(stream.read(size))
            found |= {v["dtype"] for k, v in header.items() if k != "__metadata__"}
    return sorted(found)


class TorchModel:
    """A ``speechdistill`` recogniser (teacher or student directory) in float32 on the CPU, greedy decoding."""

    parallel = True

    def __init__(self, path: str):
        from ..inference import load

        self.path = Path(path)
        self.recognizer = load(path, device="cpu")
        self.sample_rate = self.recognizer.sample_rate
        self.num_parameters = self.recognizer.num_parameters
        self.max_duration_s = self.recognizer.max_duration_s

    def transcribe(self, waveforms: list[np.ndarray]) -> list[str]:
        return self.recognizer.transcribe_waveforms(waveforms)

    def threads(self, n: int) -> contextlib.AbstractContextManager:
        return torch_threads(n)

    def weights_files(self) -> list[Path]:
        from ..teachers.loader import teacher_weight_dirs

        return [f for directory in teacher_weight_dirs(str(self.path)) for f in weights_files_in(directory)]


class TorchFP32Runtime:
    """``torch-fp32``: PyTorch eager, float32, CPU."""

    name = "torch-fp32"

    def check(self, path: str) -> None:
        from ..inference import model_kind

        if model_kind(path) not in ("teacher", "student"):
            raise ValueError(f"{path}: {self.name} runs teacher and student directories, not exported bundles")

    def preload(self) -> None:
        # everything speechdistill.load imports lazily (transformers comes in with the loaders)
        import torch  # noqa: F401

        from .. import inference, students, teachers  # noqa: F401

    def open(self, path: str) -> BenchModel:
        return TorchModel(path)


class OnnxModel:
    """An exported bundle in onnxruntime (greedy decoding, numpy features): what ships to the phone."""

    parallel = True
    max_duration_s = None

    def __init__(self, path: str, precision: str):
        from ..runtime import BundleRecognizer, read_bundle

        self.path, self.precision = Path(path), precision
        self.info = read_bundle(path)
        if precision not in self.info.files:
            raise ValueError(f"{path}: bundle has no {precision} model (exported with --no-int8?)")
        self._make = lambda threads: BundleRecognizer(self.info, precision, threads=threads)
        self.recognizer = self._make(None)
        self.sample_rate = self.recognizer.sample_rate
        self.num_parameters = int(self.info.extra.get("num_parameters", 0)) or None

    def transcribe(self, waveforms: list[np.ndarray]) -> list[str]:
        return self.recognizer.transcribe_waveforms(waveforms)

    @contextlib.contextmanager
    def threads(self, n: int) -> Iterator[None]:
        before = self.recognizer
        self.recognizer = self._make(n)
        try:
            yield
        finally:
            self.recognizer = before

    def weights_files(self) -> list[Path]:
        return [self.info.model_file(self.precision)]


class OnnxRuntime:
    """``onnx-fp32`` / ``onnx-int8``: a bundle's graph in onnxruntime on the CPU."""

    def __init__(self, precision: str):
        self.precision = precision
        self.name = f"onnx-{precision}"

    def check(self, path: str) -> None:
        from ..runtime import read_bundle

        info = read_bundle(path)  # errors name a missing file or a directory that is not a bundle
        if self.precision not in info.files:
            raise ValueError(f"{path}: bundle has no {self.precision} model (exported with --no-int8?)")

    def preload(self) -> None:
        import onnxruntime  # noqa: F401

        from .. import runtime  # noqa: F401

    def open(self, path: str) -> BenchModel:
        return OnnxModel(path, self.precision)


def _pocketsphinx() -> Runtime:
    from .pocketsphinx import PocketSphinxRuntime

    return PocketSphinxRuntime()


def _faster_whisper() -> Runtime:
    from .faster_whisper import FasterWhisperRuntime

    return FasterWhisperRuntime()


RUNTIMES = {"torch-fp32": TorchFP32Runtime, "onnx-fp32": lambda: OnnxRuntime("fp32"),
            "onnx-int8": lambda: OnnxRuntime("int8"), "pocketsphinx": _pocketsphinx,
            "faster-whisper-int8": _faster_whisper}


def get_runtime(name: str) -> Runtime:
    """The runtime called ``name`` (one of :data:`RUNTIMES`)."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}; known runtimes: {', '.join(RUNTIMES)}")
    return RUNTIMES[name]()
