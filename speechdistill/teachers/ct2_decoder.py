"""Whisper's decoder in CTranslate2: N-best lists with scores over encoder states computed by torch.

``WhisperTeacher(decoder=CT2WhisperDecoder(...))`` keeps its torch encoder (hidden states, attentions,
``window_s``) and hands the encoder's last hidden state to ``ctranslate2.models.Whisper.generate``, which
accepts encoded features of shape (batch, frames, d_model) in place of log-mel features. Reusing the torch
encoder's output is what makes a shortened window work: given log-mel features, CTranslate2 runs its own
encoder and needs exactly its trained window (3000 frames = 30 s for OpenAI's models; 800 frames is a
shape error), while its decoder cross-attends to any number of encoder frames. It also saves running the
encoder twice when a cache stores hidden states and N-best lists. CTranslate2 runs on the CPU
(``compute_type`` int8 by default: int8 weights, float32 activations); encoder states move there.

Scores: ``generate(..., return_scores=True)`` returns the cumulative log-probability divided by
``length ** length_penalty`` (length = generated tokens, EOS not counted); with ``length_penalty=0``,
as here, it is the summed token log-probability with EOS included and not length-normalised, the same
quantity as the torch backend's ``Hypothesis.score``, so posteriors (softmax over the N scores, in
``merge_nbest``) mean the same. One difference remains: CTranslate2 applies Whisper's token suppression
(``suppress_tokens``, timestamp tokens under ``<|notimestamps|>``, blank at the start) before the softmax,
so its log-probabilities are renormalised over the allowed tokens, while Hugging Face's beam search
masks them after it. CTranslate2's scores are therefore slightly higher (by about 0.02 nats per sentence
on whisper-base) and the posteriors within one list nearly equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

BACKENDS = ("torch", "ctranslate2")
COMPUTE_TYPES = ("int8", "int8_float32", "int16", "float32")  # CPU compute types of CTranslate2
DEFAULT_COMPUTE_TYPE = "int8"
TokenScores = list[tuple[list[int], float]]  # one item's hypotheses: (token ids without EOS, score), best first


def check_backend(backend: str, compute_type: str) -> None:
    """ValueError naming the choices when ``backend`` or ``compute_type`` is unknown."""
    if backend not in BACKENDS:
        raise ValueError(f"teacher backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if compute_type not in COMPUTE_TYPES:
        raise ValueError(f"CTranslate2 compute_type must be one of {', '.join(COMPUTE_TYPES)}, got {compute_type!r}")


class CT2WhisperDecoder:
    """Beam search (or greedy, ``beams=1``) of a CTranslate2 Whisper directory over given encoder states.

    directory: model.bin + config.json + tokenizer.json + vocabulary file (``packaged_ct2_dir`` or
    ``ctranslate2.converters.TransformersConverter`` output). threads: intra-op threads (None: torch's).
    """

    def __init__(self, directory: str | Path, *, compute_type: str = DEFAULT_COMPUTE_TYPE,
                 threads: int | None = None):
        import ctranslate2

        check_backend("ctranslate2", compute_type)
        self.directory = Path(directory)
        self.compute_type = compute_type
        self.threads = threads or torch.get_num_threads()
        self.model = ctranslate2.models.Whisper(str(directory), device="cpu", compute_type=compute_type,
                                                intra_threads=self.threads)

    def __repr__(self) -> str:
        return f"CT2WhisperDecoder({str(self.directory)!r}, {self.compute_type}, {self.threads} threads)"

    def generate(self, encoder_states: torch.Tensor, prompt: Sequence[int], beams: int,
                 max_new_tokens: int) -> list[TokenScores]:
        """Per item, ``beams`` hypotheses ``(tokens, summed log-prob)`` best first (one batched call).

        encoder_states: (B, frames, d_model) last encoder layer. prompt: decoder prompt ids, the same for
        every item. max_new_tokens: most tokens generated after the prompt (EOS included).
        """
        import ctranslate2

        states = np.ascontiguousarray(encoder_states.detach().to("cpu", torch.float32).numpy())
        results = self.model.generate(
            ctranslate2.StorageView.from_array(states), [list(prompt)] * states.shape[0], beam_size=beams,
            num_hypotheses=beams, return_scores=True, length_penalty=0.0,
            max_length=2 * max_new_tokens)  # CTranslate2's Whisper generates at most max_length // 2 tokens
        return [[(list(ids), float(score)) for ids, score in zip(r.sequences_ids, r.scores)] for r in results]


def teacher_ct2_dir(name: str, hf_dir: Path) -> Path:
    """The CTranslate2 directory for the Whisper teacher ``name`` loaded from the Hugging Face dir ``hf_dir``.

    A packaged teacher's is kept beside its conversion (``packaged_ct2_dir``); a directory holding a
    ``ct2/`` folder uses that; any other is converted once by CTranslate2's ``TransformersConverter``
    (weights kept in their dtype) into ``$SPEECHDISTILL_HOME/ct2/<dir name>-<sha256[:12] of the weights>``
    under a lock, renamed into place only when complete.
    """
    from .packaged import CT2_SUBDIR, is_packaged_name, packaged_ct2_dir

    if is_packaged_name(name):
        return packaged_ct2_dir(name)
    if (hf_dir / CT2_SUBDIR / "model.bin").is_file():
        return hf_dir / CT2_SUBDIR
    return _converted(hf_dir)


def _converted(hf_dir: Path) -> Path:
    from ..io import file_sha256
    from .packaged import build_once, speechdistill_home

    weights = sorted(hf_dir.glob("*.safetensors")) or sorted(hf_dir.glob("pytorch_model*.bin"))
    if not weights:
        raise FileNotFoundError(f"{hf_dir}: no weights to convert for the CTranslate2 backend")
    digest = file_sha256(weights[0]) if len(weights) == 1 else "-".join(file_sha256(w)[:8] for w in weights)

    def convert(tmp: Path) -> None:
        from ctranslate2.converters import TransformersConverter

        copy = [name for name in ("tokenizer.json",) if (hf_dir / name).is_file()]
        TransformersConverter(str(hf_dir), copy_files=copy).convert(str(tmp), force=True)

    return build_once(speechdistill_home() / "ct2" / f"{hf_dir.name}-{digest[:12]}", convert)
