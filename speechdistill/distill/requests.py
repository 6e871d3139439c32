"""What the configured losses need: a ``TeacherRequest`` per teacher and the student layers to return.

One small function per loss config class says what that loss reads (the ``NEEDS`` table); a recipe's
``losses:`` section is the merge of its sections' needs. Nothing else decides what a teacher computes,
so a teacher is asked for hidden states, attention maps or N-best lists only when a loss reads them,
and the trainer loop never looks at loss names.

Multi-teacher sections pass each teacher's name down to the terms that read it: ``fixed`` mode gives
every teacher its own sections, ``average`` and ``best`` apply the shared sections to every teacher
(``average`` mixes CTC posteriors, ``best`` also needs each teacher's confidence signal).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..config import ConfigError, build_config
from ..losses.attention import AttentionConfig
from ..losses.ctc import CTCConfig
from ..losses.feature import FeatureConfig
from ..losses.frame_kl import FrameKLConfig
from ..losses.multi_teacher import MultiTeacherConfig
from ..losses.registry import LOSSES, MIX_KEY
from ..losses.sequence_kd import SequenceKDConfig
from .sources import TeacherRequest

NBEST_ALL = 4  # hypotheses asked for when sequence_kd says ``nbest: null`` (all the teacher returns)
NBEST_TO_RANK = 4  # at least this many when a 1-best posterior must be ranked (min_posterior, best mode)
NOTHING = TeacherRequest(log_probs=False)
ONLY = None  # a loss without a ``teacher`` key reads the only teacher


@dataclass(frozen=True)
class Needs:
    """What some losses read: teacher name (or ``ONLY``) -> request, and student layers.

    student_hidden: hidden-state indices (0 = after subsampling, i = after block i).
    student_attentions: attention layers (from 1).
    """

    teachers: Mapping[str | None, TeacherRequest] = field(default_factory=dict)
    student_hidden: tuple[int, ...] = ()
    student_attentions: tuple[int, ...] = ()


def merge_requests(a: TeacherRequest, b: TeacherRequest) -> TeacherRequest:
    """The smallest request that serves both ``a`` and ``b``."""
    return TeacherRequest(hidden_layers=tuple(sorted(set(a.hidden_layers) | set(b.hidden_layers))),
                          attentions=a.attentions or b.attentions, nbest=max(a.nbest, b.nbest),
                          log_probs=a.log_probs or b.log_probs)


def merge_needs(parts: Iterable[Needs]) -> Needs:
    """All of ``parts`` at once."""
    teachers: dict[str | None, TeacherRequest] = {}
    hidden: set[int] = set()
    attentions: set[int] = set()
    for part in parts:
        for name, request in part.teachers.items():
            teachers[name] = merge_requests(teachers.get(name, NOTHING), request)
        hidden.update(part.student_hidden)
        attentions.update(part.student_attentions)
    return Needs(teachers, tuple(sorted(hidden)), tuple(sorted(attentions)))


def _ctc(config: CTCConfig, teacher: str | None) -> Needs:
    return Needs()


def _frame_kl(config: FrameKLConfig, teacher: str | None) -> Needs:
    return Needs({config.teacher or teacher: TeacherRequest(log_probs=True)})


def _sequence_kd(config: SequenceKDConfig, teacher: str | None) -> Needs:
    nbest = config.nbest if config.nbest is not None else NBEST_ALL
    if config.min_posterior > 0:  # a lone hypothesis always has posterior 1: rank it among several
        nbest = max(nbest, NBEST_TO_RANK)
    return Needs({config.teacher or teacher: TeacherRequest(nbest=nbest, log_probs=False)})


def _feature(config: FeatureConfig, teacher: str | None) -> Needs:
    request = TeacherRequest(hidden_layers=tuple(sorted(set(config.layers.values()))), log_probs=False)
    return Needs({config.teacher or teacher: request}, student_hidden=tuple(sorted(config.layers)))


def _attention(config: AttentionConfig, teacher: str | None) -> Needs:
    return Needs({config.teacher or teacher: TeacherRequest(attentions=True, log_probs=False)},
                 student_attentions=tuple(sorted(config.layers)))


CONFIDENCE_NEEDS: dict[str, TeacherRequest] = {
    "nbest_posterior": TeacherRequest(nbest=NBEST_TO_RANK, log_probs=False),
    "frame_entropy": TeacherRequest(log_probs=True),
}


def _multi_teacher(config: MultiTeacherConfig, teacher: str | None) -> Needs:
    where = "losses.multi_teacher"
    if config.mode == "fixed":
        return merge_needs(section_needs(t.losses, name, f"{where}.teachers.{name}.losses")
                           for name, t in config.teachers.items())
    extra = CONFIDENCE_NEEDS[config.confidence] if config.mode == "best" else TeacherRequest(log_probs=True)
    parts = [section_needs(config.losses, name, f"{where}.losses") for name in config.teachers]
    return merge_needs([*parts, Needs({name: extra for name in config.teachers})])


NEEDS: dict[type, Callable[..., Needs]] = {
    CTCConfig: _ctc,
    FrameKLConfig: _frame_kl,
    SequenceKDConfig: _sequence_kd,
    FeatureConfig: _feature,
    AttentionConfig: _attention,
    MultiTeacherConfig: _multi_teacher,
}


def section_needs(section: Mapping | None, teacher: str | None = ONLY, where: str = "losses") -> Needs:
    """The needs of a ``losses:`` mapping (``mix`` skipped); ``teacher`` is the one nested terms serve."""
    parts = []
    for name, data in (section or {}).items():
        if name == MIX_KEY:
            continue
        spec = LOSSES.get(name)
        if spec is None:
            raise ConfigError(f"{where}: unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
        config = build_config(spec.config, dict(data or {}), f"{where}.{name}")
        parts.append(NEEDS[spec.config](config, teacher))
    return merge_needs(parts)


def teacher_requests(needs: Needs, teacher_names: Iterable[str]) -> dict[str, TeacherRequest]:
    """Requests by configured teacher name; ``ONLY`` resolves to the single teacher, unknown names are errors.

    Teachers no loss reads get no request (and are neither loaded nor read).
    """
    names = tuple(teacher_names)
    requests: dict[str, TeacherRequest] = {}
    for name, request in needs.teachers.items():
        if name is ONLY:
            if len(names) != 1:
                raise ConfigError(f"losses: a loss names no teacher but there are {len(names)} "
                                  f"({', '.join(names) or 'none'}); give it a 'teacher' key")
            name = names[0]
        if name not in names:
            raise ConfigError(f"losses: teacher {name!r} is not under teachers ({', '.join(names) or 'none'})")
        requests[name] = merge_requests(requests.get(name, NOTHING), request)
    return {name: requests[name] for name in names if name in requests}
