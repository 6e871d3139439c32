"""The ``pocketsphinx`` runtime: CMU PocketSphinx 5 as a peer, offline, on one thread.

A model path is either the en-US model folder that ships inside the ``pocketsphinx`` wheel (its
acoustic model, its general 3-gram LM ``en-us.lm.bin`` and ``cmudict-en-us.dict``), or a folder written
by :func:`speechdistill.bench.domain_lm.build_domain_model` (``domain.arpa`` + ``domain.dict``, decoded
with the bundled acoustic model). PocketSphinx decodes one stream on one thread and has no batching.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np

from ..text import normalize_text
from .domain_lm import ARPA_NAME, DICT_NAME

SAMPLE_RATE_HZ = 16_000  # the bundled en-US acoustic model's rate
GENERAL = "en-us"  # the bundled model folder, under pocketsphinx.get_model_path()
_ALTERNATE = re.compile(r"\(\d+\)")  # "read(2)": a dictionary alternate


def bundled_model_dir() -> Path:
    """The en-US model folder inside the installed ``pocketsphinx`` package."""
    import pocketsphinx

    return Path(pocketsphinx.get_model_path(GENERAL))


def is_domain_dir(path: Path) -> bool:
    """True for a folder with a domain LM and dictionary."""
    return (path / ARPA_NAME).is_file() and (path / DICT_NAME).is_file()


class PocketSphinxModel:
    """One ``pocketsphinx.Decoder`` over the bundled acoustic model and a general or domain LM."""

    sample_rate = SAMPLE_RATE_HZ
    num_parameters = None  # a GMM-HMM; a parameter count would not compare with neural models
    max_duration_s = None
    parallel = False

    def __init__(self, path: str | Path):
        from pocketsphinx import Decoder

        self.path = Path(path)
        self.acoustic = bundled_model_dir() / GENERAL
        if is_domain_dir(self.path):
            self.lm, self.dictionary = self.path / ARPA_NAME, self.path / DICT_NAME
        else:
            self.lm, self.dictionary = self.path / "en-us.lm.bin", self.path / "cmudict-en-us.dict"
        self.decoder = Decoder(hmm=str(self.acoustic), lm=str(self.lm), dict=str(self.dictionary),
                               samprate=SAMPLE_RATE_HZ, loglevel="FATAL")

    def transcribe(self, waveforms: list[np.ndarray]) -> list[str]:
        return [self._one(w) for w in waveforms]

    def _one(self, waveform: np.ndarray) -> str:
        pcm = (np.clip(waveform, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return normalize_text(_ALTERNATE.sub("", hyp.hypstr)) if hyp is not None else ""

    def threads(self, n: int) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()  # always one thread

    def weights_files(self) -> list[Path]:
        acoustic = [p for p in self.acoustic.iterdir() if p.is_file() and p.name != "README"]
        return sorted(acoustic) + [self.lm, self.dictionary]


class PocketSphinxRuntime:
    """``pocketsphinx``: the general en-US model or a domain LM folder."""

    name = "pocketsphinx"

    def check(self, path: str) -> None:
        directory = Path(path)
        if is_domain_dir(directory) or (directory / "en-us.lm.bin").is_file():
            return
        raise FileNotFoundError(f"{path}: not a PocketSphinx model folder (expected {ARPA_NAME} + {DICT_NAME}, "
                                "or the bundled en-us folder with en-us.lm.bin)")

    def preload(self) -> None:
        import pocketsphinx  # noqa: F401

    def open(self, path: str) -> PocketSphinxModel:
        return PocketSphinxModel(path)
