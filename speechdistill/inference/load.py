"""``load``: any model path or hub id -> a recogniser, dispatched on the directory's marker kind.

=========  ==============================================================  =========================
kind       what it is                                                      loaded by
=========  ==============================================================  =========================
teacher    a Hugging Face model directory (marked or not) or a hub id      ``load_teacher``
student    a speechdistill student directory                               ``students.load_student``
bundle     an exported on-device bundle (ONNX, int8 or fp32)               ``runtime.OnnxCTCModel``
=========  ==============================================================  =========================
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import torch

from ..markers import MARKER_NAME, directory_kind, read_marker
from ..text import WORD_DELIMITER
from .recognizer import CTCForward, CTCRecognizer, DecodeOptions, Recognizer

MODEL_KINDS = ("teacher", "student", "bundle")
KNOWN_KINDS = ("teacher (a Hugging Face model directory or hub id), student (a speechdistill student directory), "
               "bundle (an exported model)")


def model_kind(spec: str | Path) -> str:
    """'teacher', 'student' or 'bundle' for a model directory; 'teacher' for anything that is not a directory
    (a hub id, or a path ``load_teacher`` will report as missing). ValueError naming the known kinds otherwise."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        return "teacher"
    try:
        kind = directory_kind(path)
    except ValueError:
        raise ValueError(f"{path}: not a model directory (no {MARKER_NAME} marker, no config.json); "
                         f"known model kinds: {KNOWN_KINDS}") from None
    if kind not in MODEL_KINDS:
        raise ValueError(f"{path}: holds a {kind}, not a model; known model kinds: {KNOWN_KINDS}")
    return kind


def load(spec: str | Path, *, device: str | torch.device = "cpu", decode: DecodeOptions | None = None,
         precision: str = "int8", threads: int | None = None, window_s: float | None = None,
         teacher_backend: str = "torch", compute_type: str = "int8") -> Recognizer:
    """A recogniser for a teacher (directory or hub id), a student directory or an exported bundle.

    ``precision`` ('int8' or 'fp32') and ``threads`` (onnxruntime intra-op threads) apply to bundles only;
    a bundle exported without int8 runs in fp32. ``window_s`` (seconds, Whisper teachers only) shortens the
    encoder window (``speechdistill.teachers.whisper.shorten_encoder_window``). ``teacher_backend``
    ("torch" or "ctranslate2") and ``compute_type`` (CTranslate2's, e.g. int8 or float32): who decodes a
    Whisper teacher (``load_teacher``'s ``backend``).

    ``decode`` picks greedy or beam decoding (lexicon/KenLM for CTC models). The returned object has
    ``transcribe``, ``labels``, ``num_parameters``, ``kind`` and ``family``; CTC models also ``log_probs``
    and ``transcribe_timed``.
    """
    kind = model_kind(spec)
    if window_s is not None and window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    if kind == "teacher":
        return _teacher(spec, device, decode, window_s, teacher_backend, compute_type)
    if teacher_backend != "torch":
        raise ValueError(f"{spec}: the {teacher_backend} backend applies to Whisper teachers, not to a {kind}")
    if window_s is not None:
        raise ValueError(f"{spec}: window_s applies to Whisper teachers, not to a {kind}")
    if kind == "student":
        return _student(Path(spec).expanduser(), device, decode)
    return _bundle(Path(spec).expanduser(), decode, precision, threads)


def _bundle(path: Path, decode: DecodeOptions | None, precision: str, threads: int | None) -> Recognizer:
    """A bundle's ONNX graph behind the same CTC recogniser (greedy or beam, timestamps) as PyTorch models.

    For text alone without torch, use ``speechdistill.runtime.BundleRecognizer``.
    """
    from ..runtime import OnnxCTCModel, read_bundle
    from ..runtime.bundle import BLANK_TOKEN, SPACE_TOKEN

    info = read_bundle(path)
    if precision == "int8" and "int8" not in info.files:
        precision = "fp32"
    if "streaming" in info.extra:
        model, forward = _streaming_forward(info, precision, threads)
    else:
        model = OnnxCTCModel(info, precision, threads=threads)

        def forward(waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, float]:
            log_probs, lengths = model(waveforms)
            return torch.from_numpy(log_probs), torch.from_numpy(lengths), info.frame_period_ms

    labels = tuple(WORD_DELIMITER if s == SPACE_TOKEN else s for s in info.tokens)
    recognizer = CTCRecognizer(forward, labels, name=f"{path}:{precision}", kind="bundle",
                               num_parameters=int(info.extra.get("num_parameters", 0)),
                               sample_rate=info.fbank.sample_rate_hz, blank_id=info.tokens.index(BLANK_TOKEN),
                               delimiter=WORD_DELIMITER, decode=decode)
    recognizer.onnx_model = model
    return recognizer


def _streaming_forward(info, precision: str, threads: int | None):
    """A streaming bundle run chunk by chunk per utterance (``runtime.StreamingRecognizer.log_probs``, tail padding
    included, no endpointing), its outputs padded into a batch."""
    from ..runtime.streaming import StreamingRecognizer

    model = StreamingRecognizer(info, precision, threads=threads, endpoint=None)

    def forward(waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, float]:
        outputs = [model.log_probs(np.asarray(w, np.float32)) for w in waveforms]
        lengths = torch.tensor([len(o) for o in outputs], dtype=torch.long)
        batch = torch.zeros(len(outputs), max(int(lengths.max()), 1), len(info.tokens))
        for row, out in enumerate(outputs):
            batch[row, : len(out)] = torch.from_numpy(out)
        return batch, lengths, info.frame_period_ms

    return model, forward


def _teacher(spec: str | Path, device, decode: DecodeOptions | None, window_s: float | None = None,
             backend: str = "torch", compute_type: str = "int8") -> Recognizer:
    from ..teachers import CTCTeacher, WhisperTeacher, load_teacher
    from ..teachers.whisper_ctc_teacher import WhisperCTCTeacher

    teacher = load_teacher(spec, device=device, window_s=window_s, backend=backend, compute_type=compute_type)
    if isinstance(teacher, WhisperTeacher):
        from .whisper import WhisperRecognizer

        return WhisperRecognizer(teacher, decode=decode)
    assert isinstance(teacher, (CTCTeacher, WhisperCTCTeacher))

    def forward(waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, float]:
        out = teacher(waveforms)
        return out.log_probs, out.lengths, out.frame_period_ms

    return CTCRecognizer(forward, teacher.labels, name=teacher.name, kind="teacher",
                         num_parameters=teacher.num_parameters, sample_rate=teacher.sample_rate,
                         blank_id=teacher.blank_id, delimiter=teacher.beam.sil_token, decode=decode)


def _student(path: Path, device, decode: DecodeOptions | None) -> Recognizer:
    """Load through ``speechdistill.students.load_student(path, device=...)``, imported only now.

    It returns a ``LoadedStudent`` (``.model``, ``.vocab``) or the model itself; the model is called as
    ``model(waveforms, lengths)`` with a padded (B, S) float32 batch at the marker's sample rate and (B,)
    sample counts and returns a ``StudentOutput``. Labels: the vocabulary (``.vocab``, on the loaded
    student or the model), else the marker's; blank id 0, ``|`` between words.
    """
    load_student = getattr(importlib.import_module("speechdistill.students"), "load_student", None)
    if load_student is None:
        raise ValueError(f"{path}: holds a student, but this version of speechdistill cannot load students yet "
                         "(speechdistill.students.load_student is missing)")
    loaded = load_student(path, device=device)
    model = getattr(loaded, "model", loaded)
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    marker = read_marker(path)
    labels = _student_labels(loaded, model, marker)
    return CTCRecognizer(_student_forward(model, device), labels, name=str(path), kind="student",
                         num_parameters=sum(p.numel() for p in model.parameters()),
                         sample_rate=marker.sample_rate, blank_id=0, delimiter=WORD_DELIMITER, decode=decode)


def _student_labels(loaded, model, marker) -> tuple[str, ...]:
    vocab = getattr(loaded, "vocab", None) or getattr(model, "vocab", None)
    labels = getattr(vocab, "labels", None) or marker.vocabulary
    if not labels:
        raise ValueError(f"student has no labels: no vocabulary on the loaded student nor in its {MARKER_NAME}")
    return tuple(labels)


def _student_forward(student, device) -> CTCForward:
    def forward(waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, float]:
        lengths = torch.tensor([len(w) for w in waveforms], dtype=torch.long)
        batch = torch.zeros(len(waveforms), int(lengths.max()))
        for row, w in enumerate(waveforms):
            batch[row, : len(w)] = torch.from_numpy(np.asarray(w, np.float32))
        with torch.inference_mode():
            out = student(batch.to(device), lengths.to(device))
        return out.log_probs.float().cpu(), out.lengths.cpu(), float(out.frame_period_ms)

    return forward
