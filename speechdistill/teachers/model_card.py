"""Model cards (README.md) for the teachers the package trains."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from ..io import atomic_write_text


def hardware_description() -> str:
    """'1x NVIDIA H100 ...' on GPU, else the CPU model and core count."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU ({cpu}), {torch.get_num_threads()} threads"


def wer_rows(metrics: dict[str, float]) -> str:
    """The rows of a card's "| split | WER |" table (fractions shown as percent)."""
    return "\n".join(f"| {name} | {value * 100:.1f}% |" for name, value in metrics.items())


def reproduce_section(history: list[dict]) -> str:
    """A card's "Reproduce" body: one table row per training run behind the weights, then their commands."""
    runs = "\n".join(f"| {i} | {stage['updates']} | {stage['best_update']} | {stage['audio_hours_seen']:.1f} h | "
                     f"{stage['wall_s'] / 60:.1f} min | {stage['hardware']} |" for i, stage in enumerate(history, 1))
    commands = "\n".join(stage["command"] for stage in history)
    return ("| run | updates | weights kept from update | audio seen | wall time | hardware |\n"
            f"|---|---|---|---|---|---|\n{runs}\n\n```\n{commands}\n```")


def write_model_card(directory: Path, *, title: str, architecture: str, params: int, data: str,
                     history: list[dict], metrics: dict[str, float]) -> Path:
    """Write ``directory/README.md`` describing how the teacher was trained and how well it does.

    history: one entry per training run that shaped these weights, oldest first (a run started with
    ``init_from`` continues from the weights another run kept): updates (run), best_update (the update
    whose weights were kept), audio_hours_seen, wall_s, hardware and command; the card adds them up.
    """
    updates = sum(stage["best_update"] for stage in history)
    hours = sum(stage["audio_hours_seen"] for stage in history)
    wall_s = sum(stage["wall_s"] for stage in history)
    hardware = "; ".join(dict.fromkeys(stage["hardware"] for stage in history))
    unknown = any(stage["hardware"] == "unknown" for stage in history)  # weights from another tool (init_from)
    origin = (f"A {architecture} speech recogniser trained by speechdistill from weights of unrecorded origin (see below)."
              if unknown else f"A {architecture} speech recogniser trained from scratch by speechdistill (no pretrained weights).")
    text = f"""---
library_name: transformers
tags: [automatic-speech-recognition, speechdistill]
---
# {title}

{origin}

| | |
|---|---|
| parameters | {params / 1e6:.2f} M |
| training data | {data} |
| optimiser updates behind these weights | {updates} |
| audio seen (all runs) | {hours:.1f} h |
| hardware | {hardware} |
| wall time (all runs) | {wall_s / 60:.1f} min |
| training runs | {len(history)} (each continues from the weights the one before kept) |

## Word error rate (greedy decoding, shared normaliser)

| split | WER |
|---|---|
{wer_rows(metrics)}

## Reproduce

{reproduce_section(history)}

Load it with plain transformers (`AutoModelForCTC.from_pretrained(dir)` or
`WhisperForConditionalGeneration.from_pretrained(dir)`) or with `speechdistill.teachers.load_teacher(dir)`.
"""
    return atomic_write_text(directory / "README.md", text)
