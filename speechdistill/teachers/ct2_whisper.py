"""A CTranslate2 Whisper model (``WhisperSpec``) -> the Hugging Face ``WhisperForConditionalGeneration`` weights.

The mapping undoes CTranslate2's Whisper converter (``python/ctranslate2/converters/transformers.py``):
self-attention ``linear_0`` holds q, k, v fused along dim 0 (k has no bias in Hugging Face; CTranslate2
stores zeros), cross-attention ``linear_0`` is q, ``linear_1`` is k, v fused and ``linear_2`` the output;
``gamma``/``beta`` are LayerNorm weight/bias. Queries are stored unscaled (nothing to undo). The decoder's
output projection is an alias of the token embeddings (tied). Every variable must be consumed: one that
maps nowhere is an error, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .ct2_format import CT2FormatError, CT2Model

WHISPER_SPEC = "WhisperSpec"
GELU = 3  # CTranslate2's ops::ActivationType::GELU
# Scalars the decoder spec stores as variables, with the only value a Whisper model can have.
EXPECTED_DECODER_SCALARS = {"activation": GELU, "alibi": 0, "alibi_use_positive_positions": 0, "scale_alibi": 0,
                            "pre_norm": 1, "scale_embeddings": 0, "start_from_zero_embedding": 0}
# CTranslate2's own attention-alignment settings; Hugging Face keeps alignment heads in the generation
# config (taken from config.json), so these only need reading.
IGNORED_DECODER_SCALARS = ("alignment_heads", "alignment_layer")

_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/(self_attention|attention|ffn)/(linear_\d|layer_norm)/(\w+)$")
_NORM = {"gamma": "weight", "beta": "bias"}


@dataclass(frozen=True)
class WhisperShape:
    """The architecture numbers a converted model's ``WhisperConfig`` needs, read off the weights."""

    vocab_size: int
    d_model: int
    num_mel_bins: int
    encoder_layers: int
    decoder_layers: int
    encoder_heads: int
    decoder_heads: int
    encoder_ffn_dim: int
    decoder_ffn_dim: int
    max_source_positions: int
    max_target_positions: int


def check_whisper_spec(model: CT2Model) -> None:
    """Refuse anything but a float Whisper model (spec name, quantised weights)."""
    if model.spec_name != WHISPER_SPEC:
        raise CT2FormatError(f"{model.path}: a CTranslate2 {model.spec_name or 'unnamed'} model, not a Whisper "
                             f"model ({WHISPER_SPEC})")
    scales = sorted(name for name in model.variables if name.endswith("_scale"))
    if scales:
        raise CT2FormatError(f"{model.path}: quantised (int8/int16) weights ({scales[0]} and {len(scales) - 1} more "
                             "scales); convert the model with --quantization float16 or float32 and import that")


def whisper_shape(model: CT2Model) -> WhisperShape:
    """Read the architecture off the variables' shapes (and the stored head counts)."""
    v = model.variables

    def count_layers(stack: str) -> int:
        return len({m.group(2) for m in map(_LAYER.match, v) if m and m.group(1) == stack})

    try:
        embeddings = v["decoder/embeddings/weight"]
        return WhisperShape(
            vocab_size=embeddings.shape[0], d_model=embeddings.shape[1],
            num_mel_bins=v["encoder/conv1/weight"].shape[1],
            encoder_layers=count_layers("encoder"), decoder_layers=count_layers("decoder"),
            encoder_heads=model.scalar("encoder/num_heads"), decoder_heads=model.scalar("decoder/num_heads"),
            encoder_ffn_dim=v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
            decoder_ffn_dim=v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
            max_source_positions=v["encoder/position_encodings/encodings"].shape[0],
            max_target_positions=v["decoder/position_encodings/encodings"].shape[0])
    except KeyError as exc:
        raise CT2FormatError(f"{model.path}: not a complete Whisper model: variable {exc.args[0]} is missing") from None


def hf_state_dict(model: CT2Model) -> dict[str, np.ndarray]:
    """Hugging Face ``WhisperForConditionalGeneration`` parameter name -> float array, from every variable."""
    check_whisper_spec(model)
    variables = dict(model.variables)
    for alias, target in model.aliases.items():
        if target not in variables:
            raise CT2FormatError(f"{model.path}: alias {alias} points to missing variable {target}")
        variables[alias] = variables[target]
    state: dict[str, np.ndarray] = {}
    for name, array in variables.items():
        for key, value in _map_variable(model, name, array):
            state[key] = np.ascontiguousarray(value)
    return state


def _map_variable(model: CT2Model, name: str, array: np.ndarray) -> list[tuple[str, np.ndarray]]:
    top = {
        "encoder/conv1/weight": "model.encoder.conv1.weight", "encoder/conv1/bias": "model.encoder.conv1.bias",
        "encoder/conv2/weight": "model.encoder.conv2.weight", "encoder/conv2/bias": "model.encoder.conv2.bias",
        "encoder/position_encodings/encodings": "model.encoder.embed_positions.weight",
        "encoder/layer_norm/gamma": "model.encoder.layer_norm.weight",
        "encoder/layer_norm/beta": "model.encoder.layer_norm.bias",
        "decoder/embeddings/weight": "model.decoder.embed_tokens.weight",
        "decoder/position_encodings/encodings": "model.decoder.embed_positions.weight",
        "decoder/layer_norm/gamma": "model.decoder.layer_norm.weight",
        "decoder/layer_norm/beta": "model.decoder.layer_norm.bias",
    }
    if name in top:
        return [(top[name], array)]
    if name == "decoder/projection/weight":
        return _tied_projection(model, array)
    if name in ("encoder/num_heads", "decoder/num_heads"):
        return []  # read by whisper_shape
    stack, _, field = name.partition("/")
    if stack == "decoder" and field in EXPECTED_DECODER_SCALARS:
        if int(array) != EXPECTED_DECODER_SCALARS[field]:
            raise CT2FormatError(f"{model.path}: {name} = {int(array)}, a Whisper decoder has "
                                 f"{EXPECTED_DECODER_SCALARS[field]}")
        return []
    if stack == "decoder" and field in IGNORED_DECODER_SCALARS:
        return []
    match = _LAYER.match(name)
    if match is None:
        raise CT2FormatError(f"{model.path}: variable {name} maps to nothing in a Hugging Face Whisper model")
    return _map_layer_variable(model, name, array, *match.groups())


def _tied_projection(model: CT2Model, array: np.ndarray) -> list[tuple[str, np.ndarray]]:
    embeddings = model.variables.get("decoder/embeddings/weight")
    if embeddings is None or not np.array_equal(array, embeddings):
        raise CT2FormatError(f"{model.path}: decoder/projection/weight differs from the token embeddings; Hugging "
                             "Face Whisper ties them, so this model cannot be represented")
    return []  # proj_out.weight is tied to embed_tokens.weight


def _map_layer_variable(model: CT2Model, name: str, array: np.ndarray, stack: str, index: str, block: str,
                        part: str, field: str) -> list[tuple[str, np.ndarray]]:
    prefix = f"model.{stack}.layers.{index}"
    if part == "layer_norm":
        if field not in _NORM:
            raise CT2FormatError(f"{model.path}: variable {name} maps to nothing in a Hugging Face Whisper model")
        norm = {"self_attention": "self_attn_layer_norm", "attention": "encoder_attn_layer_norm",
                "ffn": "final_layer_norm"}[block]
        return [(f"{prefix}.{norm}.{_NORM[field]}", array)]
    if field not in ("weight", "bias"):
        raise CT2FormatError(f"{model.path}: variable {name} maps to nothing in a Hugging Face Whisper model")
    targets = _linear_targets(block, part)
    if targets is None:
        raise CT2FormatError(f"{model.path}: variable {name} maps to nothing in a Hugging Face Whisper model")
    attn = {"self_attention": "self_attn", "attention": "encoder_attn", "ffn": ""}[block]
    pieces = np.split(array, len(targets), axis=0)
    out = []
    for target, piece in zip(targets, pieces):
        module = f"{prefix}.{attn}.{target}" if attn else f"{prefix}.{target}"
        if target == "k_proj" and field == "bias":
            if np.any(piece != 0):
                raise CT2FormatError(f"{model.path}: {name} has a non-zero key bias; Hugging Face Whisper's k_proj "
                                     "has no bias, so this is not a Whisper model")
            continue
        out.append((f"{module}.{field}", piece))
    return out


def _linear_targets(block: str, part: str) -> tuple[str, ...] | None:
    """The Hugging Face modules a CTranslate2 linear layer holds, in the order they are fused on dim 0."""
    table = {
        ("self_attention", "linear_0"): ("q_proj", "k_proj", "v_proj"),
        ("self_attention", "linear_1"): ("out_proj",),
        ("attention", "linear_0"): ("q_proj",),
        ("attention", "linear_1"): ("k_proj", "v_proj"),
        ("attention", "linear_2"): ("out_proj",),
        ("ffn", "linear_0"): ("fc1",),
        ("ffn", "linear_1"): ("fc2",),
    }
    return table.get((block, part))
