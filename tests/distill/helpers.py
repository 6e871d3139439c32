"""Tiny fixtures for distillation tests: a tone corpus on disk and overrides that shrink a recipe to it."""

from __future__ import annotations

from pathlib import Path

from speechdistill.data.manifests import write_nemo_manifest

from ..conftest import make_tone_utterances

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
SYNTHETIC = RECIPES / "synthetic_commands"
# A ~70k-parameter conformer with the 1m preset's 4 blocks (so the recipes' layer maps still hold).
TINY_STUDENT = "{d_model: 32, num_heads: 2, subsampling_channels: 8, ff_mult: 2, conv_kernel: 7}"
# The tiny wav2vec2 teacher keeps the embedded teacher's 10 layers, so layer maps like {4: 10} hold.
TINY_W2V = {"num_hidden_layers": 10}
TINY_WHISPER = {"max_source_positions": 100}  # a 2 s window: tone utterances are up to 1.2 s (1.33 s slowed)
# Recipes that read the Whisper teacher shorten its window (20 s of the real one's 30 s); the tiny one has 2 s.
TINY_WHISPER_WINDOW_S = 2.0


def write_tiny_corpus(directory: Path, n_train: int = 6) -> dict[str, Path]:
    """train / dev / test NeMo manifests over tone utterances (dev and test: 2 each, distinct audio)."""
    utts = make_tone_utterances(directory / "audio", n=n_train + 4)
    paths = {"train": directory / "train.jsonl", "dev": directory / "dev.jsonl", "test": directory / "test.jsonl"}
    write_nemo_manifest(paths["train"], utts[:n_train])
    write_nemo_manifest(paths["dev"], utts[n_train:n_train + 2])
    write_nemo_manifest(paths["test"], utts[n_train + 2:])
    return paths


def tiny_teachers(tiny_teacher_dir) -> dict[str, Path]:
    """Tiny random teachers with the embedded ones' architectures, by recipe teacher name."""
    return {"w2v": tiny_teacher_dir("wav2vec2", **TINY_W2V), "whisper": tiny_teacher_dir("whisper", **TINY_WHISPER)}


def tiny_overrides(corpus: dict[str, Path], teachers: dict[str, Path], out_dir: Path, *, updates: int = 2,
                   **train) -> list[str]:
    """key=value overrides pointing a synthetic_commands recipe at tiny data, teachers and student."""
    settings = {"max_updates": updates, "batch_seconds": 3.0, "eval_every": updates, "checkpoint_every": updates,
                "log_every": 1, "warmup_updates": 1, "cpu": "true", **train}
    return [f"out_dir={out_dir}", f"data.train={corpus['train']}", f"data.dev={corpus['dev']}",
            f"data.test={{test: {corpus['test']}}}", f"student.overrides={TINY_STUDENT}",
            *(f"teachers.{name}.spec={path}" for name, path in teachers.items()),
            *([f"teachers.whisper.window_s={TINY_WHISPER_WINDOW_S}"] if "whisper" in teachers else []),
            *(f"train.{key}={value}" for key, value in settings.items())]
