"""The model card (README.md) of a whisper-lora adapter directory."""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_text
from .model_card import reproduce_section, wer_rows
from .whisper_lora import WEIGHTS_NAME, AdapterConfig, adapter_bytes

ROBUSTNESS_SPLITS = ("test_unseen_engine", "test_noisy")  # where the pretrained model's robustness shows


def before_after_rows(metrics: dict[str, float], base_metrics: dict[str, float]) -> str:
    """Rows of "| split | base | adapted | change |" (percent; change in WER points, negative = better)."""
    return "\n".join(f"| {split} | {base_metrics[split] * 100:.1f}% | {value * 100:.1f}% | "
                     f"{(value - base_metrics[split]) * 100:+.1f} |" for split, value in metrics.items())


def robustness_verdict(metrics: dict[str, float], base_metrics: dict[str, float]) -> str:
    """One sentence: does the adapter keep the base's WER on the robustness splits that were scored?"""
    splits = [s for s in ROBUSTNESS_SPLITS if s in metrics and s in base_metrics]
    if not splits:
        return "Robustness not checked: no test_unseen_engine or test_noisy split was scored against the base."
    worse = [s for s in splits if metrics[s] > base_metrics[s]]
    if worse:
        return (f"Robustness NOT kept: WER rose on {', '.join(worse)} against the base; keep the pretrained "
                "teacher for out-of-domain audio.")
    return f"Robustness kept: WER on {', '.join(splits)} is no higher than the base's."


def write_whisper_lora_card(directory: Path, title: str, config: AdapterConfig, history: list[dict],
                            metrics: dict[str, float], base_metrics: dict[str, float], data: str) -> Path:
    """Write ``directory/README.md``: base, adapter shape and size, WER before/after per split, the command."""
    lora = config.lora
    size_mb = adapter_bytes(directory) / 1e6
    if base_metrics:
        table = ("| split | base (zero-shot) | adapted | change (points) |\n|---|---|---|---|\n"
                 f"{before_after_rows(metrics, base_metrics)}\n\n{robustness_verdict(metrics, base_metrics)}")
    else:
        table = f"| split | WER |\n|---|---|\n{wer_rows(metrics)}"
    targets = ", ".join(f"`{t}`" for t in lora.targets)
    text = f"""---
tags: [automatic-speech-recognition, whisper, lora, speechdistill]
---
# {title}

A LoRA adapter for OpenAI Whisper (`{config.base}`), trained on in-domain transcripts with Whisper's own
objective (teacher-forced cross-entropy after `<|startoftranscript|><|en|><|transcribe|><|notimestamps|>`)
and an encoder window of {config.window_s:g} s, which it also runs with by default.

| | |
|---|---|
| base weights | `{config.base}` (sha256 `{config.base_sha256}`), loaded from the installed package |
| adapter | `{WEIGHTS_NAME}`, {size_mb:.2f} MB: rank {lora.rank}, alpha {lora.alpha:g}, dropout {lora.dropout:g} |
| adapted layers | {targets} |
| training data | {data} |

## Word error rate (greedy decoding, {config.window_s:g} s window, shared normaliser)

{table}

## Reproduce

{reproduce_section(history)}

Load it with `speechdistill.teachers.load_teacher(dir)` (or `speechdistill eval/transcribe/bench --model dir`):
the base comes from the installed `speechdistill[whisper]` packages (a different base is refused) and the
merged model is made once under `$SPEECHDISTILL_HOME/adapted`.
"""
    return atomic_write_text(directory / "README.md", text)
