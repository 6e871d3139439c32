"""The student families by name: their config classes, model classes and size presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from .conformer import CONFORMER_PRESETS, ConformerConfig, ConformerCTC, conformer_ctc
from .wav2vec2 import WAV2VEC2_PRESETS, Wav2Vec2Student, Wav2Vec2StudentConfig, wav2vec2_ctc


@dataclass(frozen=True)
class Family:
    """One student family: ``model_class(config)`` rebuilds a saved student, ``factory(size, ...)`` a new one."""

    name: str
    config_class: type
    model_class: type[nn.Module]
    presets: dict[str, Any]
    factory: Callable[..., nn.Module]


FAMILIES: dict[str, Family] = {
    "conformer": Family("conformer", ConformerConfig, ConformerCTC, CONFORMER_PRESETS, conformer_ctc),
    "wav2vec2": Family("wav2vec2", Wav2Vec2StudentConfig, Wav2Vec2Student, WAV2VEC2_PRESETS, wav2vec2_ctc),
}


def get_family(name: str) -> Family:
    """The family called ``name``, or a ValueError naming the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown student family {name!r}; expected one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def config_from_dict(family: str, data: dict[str, Any]):
    """The family's frozen config from a JSON dict (lists become tuples); unknown keys are an error."""
    config_class = get_family(family).config_class
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{family} student config: unknown key {unknown[0]!r}")
    return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def build_student(family: str = "conformer", size: str = "1m", *, vocab_size: int = 32, **overrides) -> nn.Module:
    """A randomly initialised student of ``family`` at preset ``size``, preset fields replaced by ``overrides``.

    The entry point for recipes; ``conformer_ctc(size)`` and ``wav2vec2_ctc(size)`` are the same per family.
    """
    return get_family(family).factory(size, vocab_size=vocab_size, **overrides)


def preset_name(family: str, config: Any) -> str | None:
    """The preset ``config`` equals apart from its vocabulary size, or None for a custom config."""
    for name, preset in get_family(family).presets.items():
        if dataclasses.replace(preset, vocab_size=config.vocab_size) == config:
            return name
    return None


def num_parameters(model: nn.Module) -> int:
    """Total parameter count."""
    return sum(p.numel() for p in model.parameters())
