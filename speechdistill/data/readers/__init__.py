"""Manifest readers. Each returns ``list[Utterance]`` and shares the arguments ``labelled``, ``report``,
``vocab`` and ``max_duration_s``; :func:`speechdistill.data.manifests.read_manifest` picks one by path."""

from .common import DEFAULT_VOCAB
from .hf import read_hf_dataset
from .kaldi import read_kaldi_dir
from .librispeech import read_librispeech
from .nemo import read_nemo_manifest, write_nemo_manifest

__all__ = ["DEFAULT_VOCAB", "read_hf_dataset", "read_kaldi_dir", "read_librispeech", "read_nemo_manifest",
           "write_nemo_manifest"]
