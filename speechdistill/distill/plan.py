"""Check a recipe as a whole before anything is loaded, and derive what each teacher must provide.

``plan_recipe`` is what ``speechdistill distill`` runs first and what the recipe tests run on every YAML:
the loss sections are built once (with placeholder projection sizes) so their own rules apply, teacher
names are resolved, and cross-section rules are checked (unlabelled data has no hard term to learn from,
a cached source needs a cache directory for every teacher a loss reads).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import ConfigError
from ..losses.base import LossContext
from ..losses.mix import MixLoss
from ..losses.registry import build_mix
from ..students.factory import get_family
from ..text import Vocabulary
from .config import DistillConfig, StudentSpec
from .inplace import external_requests
from .requests import Needs, section_needs, teacher_requests
from .sources import TeacherRequest

PLACEHOLDER_DIM = 1  # projection size used only to check the loss sections


@dataclass(frozen=True)
class Plan:
    """What a recipe implies: a request per teacher some loss reads (recipe order), and student layers."""

    requests: dict[str, TeacherRequest]
    needs: Needs


def plan_recipe(config: DistillConfig, vocab: Vocabulary | None = None) -> Plan:
    """Validate ``config`` beyond its types; ConfigError naming the key on any problem."""
    vocab = vocab or Vocabulary.default()
    check_student(config.student)
    needs = section_needs(config.losses)
    requests = teacher_requests(needs, config.teachers)
    context = LossContext(vocab, student_dim=PLACEHOLDER_DIM,
                          teacher_dims={name: PLACEHOLDER_DIM for name in config.teachers})
    mix = build_mix(config.losses, context)
    check_label_share(config, mix)
    if config.data.unlabelled and len(mix.hard.terms):
        raise ConfigError(f"data.unlabelled is true but losses has hard term(s) {', '.join(mix.hard.terms)}: "
                          "the training audio has no transcripts; remove them and set losses.mix.alpha: 0")
    if config.teacher_source == "cache":  # the student's own full-context mode (in-place KD) is never cached
        missing = [name for name in external_requests(config, requests) if name not in config.cache_dirs]
        if missing:
            raise ConfigError(f"teacher_source is 'cache' but cache_dirs has no entry for {', '.join(missing)}")
    return Plan(requests, needs)


def check_label_share(config: DistillConfig, mix: MixLoss) -> None:
    """``data.labelled_fraction`` with the other data keys and the losses: unlabelled audio must have a teacher."""
    data = config.data
    if data.labelled_fraction == 1.0:
        return
    if data.unlabelled:
        raise ConfigError("data.unlabelled is true (no transcripts at all) but data.labelled_fraction is "
                          f"{data.labelled_fraction}: set one of them")
    if data.keep_unlabelled and not len(mix.distill.terms):
        raise ConfigError(f"data.labelled_fraction is {data.labelled_fraction} and data.keep_unlabelled is true, "
                          "but no distillation term reads the unlabelled audio: add one or set data.keep_unlabelled: false")


def check_student(spec: StudentSpec) -> None:
    """The preset exists and every override names a field of the family's config (vocab_size is the vocabulary's)."""
    family = get_family(spec.family)
    if spec.size not in family.presets:
        raise ConfigError(f"student.size: {spec.size!r} is not a {spec.family} preset; "
                          f"expected one of {', '.join(family.presets)}")
    valid = sorted(f.name for f in dataclasses.fields(family.config_class) if f.name != "vocab_size")
    unknown = sorted(set(spec.overrides) - set(valid))
    if unknown:
        raise ConfigError(f"student.overrides: unknown key {unknown[0]!r}; valid keys: {', '.join(valid)}")
