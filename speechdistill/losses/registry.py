"""Loss name -> (config class, builder): how a recipe's ``losses:`` section becomes a ``MixLoss``.

YAML::

    losses:
      mix: {alpha: 0.3}                       # MixConfig; the one key that is not a loss
      ctc: {weight: 1.0}                      # hard terms: the alpha side
      frame_kl: {weight: 1.0, temperature: 2.0}
      feature: {weight: 0.5, layers: {4: 6, 8: 12}}

Each section is checked against its frozen config dataclass (unknown keys and bad types are errors that
name the key); the builder gets the config and a ``LossContext``. Adding a loss = one module + one row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..config import ConfigError, build_config
from .attention import AttentionConfig, AttentionLoss
from .base import DistillationLoss, LossContext, WeightedSum
from .ctc import CTCConfig, CTCLoss
from .feature import FeatureConfig, FeatureLoss
from .frame_kl import FrameKLConfig, FrameKLLoss
from .mix import MixConfig, MixLoss
from .multi_teacher import MultiTeacherConfig, build_multi_teacher
from .sequence_kd import SequenceKDConfig, SequenceKDLoss

MIX_KEY = "mix"


@dataclass(frozen=True)
class LossSpec:
    """A registered loss: its YAML section's dataclass, its builder, and whether it is a hard (alpha) term."""

    config: type
    build: Callable[[Any, LossContext], DistillationLoss]
    hard: bool = False


def _build_multi_teacher(config: MultiTeacherConfig, context: LossContext) -> DistillationLoss:
    """``build_multi_teacher`` with this registry building its terms (nested: no hard terms, no teacher keys)."""
    return build_multi_teacher(config, context, partial(build_terms, nested=True))


LOSSES: dict[str, LossSpec] = {
    "ctc": LossSpec(CTCConfig, CTCLoss.build, hard=True),
    "frame_kl": LossSpec(FrameKLConfig, FrameKLLoss.build),
    "sequence_kd": LossSpec(SequenceKDConfig, SequenceKDLoss.build),
    "feature": LossSpec(FeatureConfig, FeatureLoss.build),
    "attention": LossSpec(AttentionConfig, AttentionLoss.build),
    "multi_teacher": LossSpec(MultiTeacherConfig, _build_multi_teacher),
}


def build_loss(name: str, section: Mapping | None, context: LossContext,
               where: str = "losses") -> tuple[Any, DistillationLoss]:
    """(config, loss module) for one section; ConfigError naming ``where.name`` on any problem."""
    spec = LOSSES.get(name)
    if spec is None:
        raise ConfigError(f"{where}: unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    config = build_config(spec.config, dict(section or {}), f"{where}.{name}")
    try:
        return config, spec.build(config, context)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{where}.{name}: {exc}") from exc


def build_terms(section: Mapping, context: LossContext, where: str = "losses",
                nested: bool = False) -> dict[str, tuple[float, DistillationLoss]]:
    """name -> (weight, loss) for every loss section; ``nested`` (inside multi_teacher) refuses hard terms
    and ``teacher`` keys, since the combiner decides which teacher each term reads."""
    terms = {}
    for name, data in section.items():
        config, loss = build_loss(name, data, context, where)
        if nested and (LOSSES[name].hard or getattr(config, "teacher", None) is not None):
            raise ConfigError(f"{where}.{name}: inside multi_teacher a term may not be a hard loss or name a teacher")
        terms[name] = (config.weight, loss)
    return terms


def build_mix(section: Mapping, context: LossContext, where: str = "losses") -> MixLoss:
    """The ``MixLoss`` for a recipe's ``losses`` section (``mix`` holds alpha; every other key is a loss)."""
    section = dict(section or {})
    mix = build_config(MixConfig, dict(section.pop(MIX_KEY, None) or {}), f"{where}.{MIX_KEY}")
    terms = build_terms(section, context, where)
    hard = {name: term for name, term in terms.items() if LOSSES[name].hard}
    distill = {name: term for name, term in terms.items() if not LOSSES[name].hard}
    if mix.alpha > 0 and not hard:
        raise ConfigError(f"{where}.{MIX_KEY}.alpha is {mix.alpha} but no hard loss (ctc) is configured; set alpha: 0")
    if mix.alpha < 1 and not distill:
        raise ConfigError(f"{where}.{MIX_KEY}.alpha is {mix.alpha} but no distillation loss is configured; "
                          "set alpha: 1 for plain CTC")
    return MixLoss(WeightedSum(hard), WeightedSum(distill), mix.alpha)
