"""What a distilled student's model card records: teachers, recipe, losses, budget seen, scores, command."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..io import atomic_write_text
from ..losses.registry import MIX_KEY
from .config import DistillConfig

FACTS_NAME = "distillation.json"


@dataclass(frozen=True)
class DistillFacts:
    """How a saved student came to be (written beside it as ``distillation.json``).

    teachers: name -> spec of the teachers some loss read. update / audio_hours_seen: when this student
    was the best by dev WER. wer: split -> WER (fraction); dev during training, dev and tests at the end.
    """

    recipe: str
    command: str
    teachers: dict[str, str]
    teacher_source: str
    losses: tuple[str, ...]
    update: int
    audio_hours_seen: float
    wer: dict[str, float] = field(default_factory=dict)
    total_updates: int | None = None


def facts_for(config: DistillConfig, teachers: tuple[str, ...], state: dict, wer: dict[str, float], *,
              recipe: str, command: str) -> DistillFacts:
    """Facts for the student saved at loop ``state`` (its ``update`` and ``audio_seconds_seen``)."""
    return DistillFacts(recipe=recipe, command=command,
                        teachers={name: config.teachers[name].spec for name in teachers},
                        teacher_source=config.teacher_source if teachers else "none",
                        losses=tuple(k for k in config.losses if k != MIX_KEY), update=int(state["update"]),
                        audio_hours_seen=float(state["audio_seconds_seen"]) / 3600, wer=dict(wer))


def write_facts(directory: Path, facts: DistillFacts) -> Path:
    """Write ``distillation.json`` into a student directory."""
    return atomic_write_text(directory / FACTS_NAME, json.dumps(asdict(facts), indent=2) + "\n")


def read_facts(directory: Path) -> DistillFacts:
    """The facts ``write_facts`` wrote."""
    data = json.loads((directory / FACTS_NAME).read_text())
    return DistillFacts(**{**data, "losses": tuple(data["losses"])})


def card_notes(facts: DistillFacts) -> str:
    """Markdown for the student's model card (``save_student(notes=...)``)."""
    teachers = ", ".join(f"`{name}`: {spec}" for name, spec in facts.teachers.items()) or "none (plain CTC)"
    total = f" of {facts.total_updates}" if facts.total_updates is not None else ""
    rows = "\n".join(f"| {split} | {value * 100:.1f}% |" for split, value in facts.wer.items())
    return f"""
## Distillation

| | |
|---|---|
| teacher(s) | {teachers} |
| teacher outputs | {facts.teacher_source} |
| losses | {", ".join(facts.losses)} |
| recipe | {facts.recipe or "-"} |
| optimiser updates | {facts.update}{total} (best by dev WER) |
| audio seen | {facts.audio_hours_seen:.2f} h |

## Word error rate (greedy decoding, shared normaliser)

| split | WER |
|---|---|
{rows}

## Reproduce

```
{facts.command}
```
"""
