"""``import_ct2_whisper``: a CTranslate2 (faster-whisper) Whisper directory -> a Hugging Face Whisper directory.

The output loads offline with ``WhisperForConditionalGeneration.from_pretrained`` and
``WhisperProcessor.from_pretrained`` (safetensors, config, generation config, tokenizer, feature-extractor
config) and carries the ``speechdistill.json`` marker and a model card naming the source and the
sha256 of its ``model.bin``. Token ids come from the source's ``tokenizer.json``; language ids, suppress
lists and alignment heads from its ``config.json``. The directory is written beside ``out`` and renamed
into place, so a half-written conversion is never found at ``out``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..io import file_sha256, usual_permissions
from ..markers import Marker, write_marker
from .ct2_format import CT2FormatError, read_ct2_model
from .ct2_whisper import WhisperShape, hf_state_dict, whisper_shape

CT2_FILES = ("model.bin", "config.json", "tokenizer.json")
EOT, SOT, PREV, NO_TIMESTAMPS = "<|endoftext|>", "<|startoftranscript|>", "<|startofprev|>", "<|notimestamps|>"
TRANSCRIBE, TRANSLATE = "<|transcribe|>", "<|translate|>"
MULTILINGUAL_VOCAB = 51865  # Hugging Face's rule: vocabularies this large or larger are multilingual
MAX_INITIAL_TIMESTAMP_INDEX = 50  # openai/whisper's default (1 s)
SAMPLE_RATE_HZ, HOP_SAMPLES = 16_000, 160  # Whisper's log-mel: 10 ms frames
MEL_FRAMES_PER_POSITION = 2  # the encoder's second convolution has stride 2


@dataclass(frozen=True)
class ImportSource:
    """Where a CTranslate2 model came from, for the model card: e.g. the package and version that shipped it."""

    description: str
    package: str | None = None
    version: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    """What ``import_ct2_whisper`` wrote."""

    directory: Path
    model_bin_sha256: str
    parameters: int
    seconds: float


def import_ct2_whisper(src: str | Path, out: str | Path, *, source: ImportSource | None = None,
                       dtype: torch.dtype = torch.float32, overwrite: bool = False) -> ImportResult:
    """Convert the CTranslate2 Whisper directory ``src`` (model.bin, config.json, tokenizer.json) into ``out``.

    dtype: parameter dtype of the written safetensors (float32 by default; float16 halves the size and is
    what the source usually stores). Errors name the file and what is wrong.
    """
    started = time.monotonic()
    src, out = Path(src), Path(out)
    for name in CT2_FILES:
        if not (src / name).is_file():
            raise CT2FormatError(f"{src / name}: missing; a CTranslate2 Whisper directory holds {', '.join(CT2_FILES)}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    ct2 = read_ct2_model(src / "model.bin")
    state = hf_state_dict(ct2)
    shape = whisper_shape(ct2)
    ct2_config = _read_json(src / "config.json")
    tokenizer = _load_tokenizer(src / "tokenizer.json", shape.vocab_size)
    ids = _special_ids(tokenizer, src / "tokenizer.json")
    model = _build_model(shape, state, ids, ct2_config, src)
    generation = _generation_config(model.config, tokenizer, ids, ct2_config, src / "config.json")
    model.generation_config = generation
    sha = file_sha256(src / "model.bin")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=_parent(out)))
    try:
        _save(model.to(dtype), tokenizer, shape, tmp)
        params = sum(p.numel() for p in model.parameters())
        write_marker(tmp, Marker(kind="teacher", extra={
            "origin": "ctranslate2-import", "source": source.description if source else str(src),
            "package": source.package if source else None, "package_version": source.version if source else None,
            "model_bin_sha256": sha, "spec_revision": ct2.spec_revision, "binary_version": ct2.binary_version}))
        _write_card(tmp, shape, params, sha, src, source, ct2.spec_revision, dtype)
        usual_permissions(tmp)  # mkdtemp makes a 0700 directory
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ImportResult(out, sha, params, time.monotonic() - started)


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CT2FormatError(f"{path}: not readable JSON: {exc}") from None


def _load_tokenizer(path: Path, vocab_size: int):
    from transformers import WhisperTokenizer

    try:
        tokenizer = WhisperTokenizer(tokenizer_file=str(path), unk_token=EOT, bos_token=EOT, eos_token=EOT,
                                     pad_token=EOT)
    except Exception as exc:  # tokenizers raises its own exception types for malformed files
        raise CT2FormatError(f"{path}: not a readable tokenizer: {exc}") from None
    if len(tokenizer) > vocab_size:
        raise CT2FormatError(f"{path}: {len(tokenizer)} tokens, more than the model's {vocab_size} outputs")
    return tokenizer


def _special_ids(tokenizer, path: Path) -> dict[str, int]:
    vocab = tokenizer.get_vocab()
    missing = [t for t in (EOT, SOT, NO_TIMESTAMPS) if t not in vocab]
    if missing:
        raise CT2FormatError(f"{path}: not a Whisper tokenizer: no {', '.join(missing)}")
    return {t: vocab[t] for t in (EOT, SOT, PREV, NO_TIMESTAMPS, TRANSCRIBE, TRANSLATE) if t in vocab}


def _build_model(shape: WhisperShape, state: dict[str, np.ndarray], ids: dict[str, int], ct2_config: dict,
                 src: Path):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(
        vocab_size=shape.vocab_size, num_mel_bins=shape.num_mel_bins, d_model=shape.d_model,
        encoder_layers=shape.encoder_layers, decoder_layers=shape.decoder_layers,
        encoder_attention_heads=shape.encoder_heads, decoder_attention_heads=shape.decoder_heads,
        encoder_ffn_dim=shape.encoder_ffn_dim, decoder_ffn_dim=shape.decoder_ffn_dim,
        max_source_positions=shape.max_source_positions, max_target_positions=shape.max_target_positions,
        pad_token_id=ids[EOT], bos_token_id=ids[EOT], eos_token_id=ids[EOT], decoder_start_token_id=ids[SOT],
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [])), tie_word_embeddings=True)
    model = WhisperForConditionalGeneration(config)
    tensors = {name: torch.from_numpy(array.astype(np.float32)) for name, array in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [name for name in missing if name != "proj_out.weight"]  # tied to the embeddings
    if missing or unexpected:
        raise CT2FormatError(f"{src / 'model.bin'}: does not fit a Hugging Face Whisper model of its shape: "
                             f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.tie_weights()
    return model.eval()


def _generation_config(config, tokenizer, ids: dict[str, int], ct2_config: dict, path: Path):
    from transformers import GenerationConfig

    multilingual = config.vocab_size >= MULTILINGUAL_VOCAB
    generation = GenerationConfig(
        decoder_start_token_id=ids[SOT], bos_token_id=ids[EOT], eos_token_id=ids[EOT], pad_token_id=ids[EOT],
        max_length=config.max_target_positions, no_timestamps_token_id=ids[NO_TIMESTAMPS],
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [])),
        alignment_heads=[list(pair) for pair in ct2_config.get("alignment_heads", [])],
        is_multilingual=multilingual, max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX,
        return_timestamps=False)
    if PREV in ids:
        generation.prev_sot_token_id = ids[PREV]
    if multilingual:
        tokens = tokenizer.convert_ids_to_tokens(list(ct2_config.get("lang_ids", [])))
        bad = [t for t in tokens if t is None or not (t.startswith("<|") and t.endswith("|>"))]
        if not tokens or bad:
            raise CT2FormatError(f"{path}: lang_ids must name language tokens of the tokenizer; got {bad[:3] or 'none'}")
        generation.lang_to_id = {t: i for t, i in zip(tokens, ct2_config["lang_ids"])}
        generation.task_to_id = {"transcribe": ids[TRANSCRIBE], "translate": ids[TRANSLATE]}
    return generation


def _save(model, tokenizer, shape: WhisperShape, directory: Path) -> None:
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    model.save_pretrained(directory, safe_serialization=True)
    # The processor pads audio to the encoder's window (30 s for OpenAI's models, less for small test models).
    chunk_s = shape.max_source_positions * MEL_FRAMES_PER_POSITION * HOP_SAMPLES / SAMPLE_RATE_HZ
    extractor = WhisperFeatureExtractor(feature_size=shape.num_mel_bins,
                                        chunk_length=int(chunk_s) if chunk_s.is_integer() else chunk_s)
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(directory)


def _write_card(directory: Path, shape: WhisperShape, params: int, sha: str, src: Path, source: ImportSource | None,
                revision: int, dtype: torch.dtype) -> None:
    from ..io import atomic_write_text

    origin = source.description if source else f"the CTranslate2 directory {src}"
    package = f"{source.package}=={source.version}" if source and source.package else "–"
    text = f"""---
library_name: transformers
license: mit
tags: [automatic-speech-recognition, whisper, speechdistill]
---
# Whisper ({shape.encoder_layers}+{shape.decoder_layers} layers x {shape.d_model}), imported from CTranslate2

OpenAI's Whisper weights (MIT licence), converted back to Hugging Face `WhisperForConditionalGeneration` by
`speechdistill teacher import` from {origin}.

| | |
|---|---|
| parameters | {params / 1e6:.2f} M |
| source package | {package} |
| sha256 of the source model.bin | `{sha}` |
| CTranslate2 spec | WhisperSpec revision {revision} |
| stored dtype | {str(dtype).removeprefix('torch.')} |

## Conversion

Every variable of `model.bin` is mapped, none dropped: self-attention `linear_0` is split into q, k, v
(CTranslate2's zero key bias is checked and left out, Hugging Face has none), cross-attention `linear_0`
is q, `linear_1` k and v, `linear_2` the output; `gamma`/`beta` are LayerNorm weight/bias; the output
projection stays tied to the token embeddings. Token ids come from the source `tokenizer.json`; language
ids, suppress lists and alignment heads from its `config.json`.

Load it with `WhisperForConditionalGeneration.from_pretrained(dir)` and `WhisperProcessor.from_pretrained(dir)`,
or with `speechdistill.teachers.load_teacher(dir)`.
"""
    atomic_write_text(directory / "README.md", text)
