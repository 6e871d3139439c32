"""What the demo does, as one frozen record: the full and ``--quick`` presets, and the run folder's copy.

A demo folder keeps ``demo.json`` (these settings). A rerun with the same settings reuses every finished
stage; different settings in the same folder are refused (``--force`` starts the folder over).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]
SETTINGS_NAME = "demo.json"
COMPARISON_JSON = REPO / "recipes" / "synthetic_commands" / "comparison.json"


def finished_comparison(path: Path = COMPARISON_JSON) -> dict | None:
    """Scenario A (every transcript kept) of the method comparison ``compare.py`` wrote, or None while there is
    none or it still misses runs (a comparison spread over sessions names the best KD method only once every
    method has run)."""
    if not path.is_file():
        return None
    comparison = json.loads(path.read_text())
    if comparison.get("missing_runs") or "A" not in comparison.get("scenarios", {}):
        return None
    return comparison["scenarios"]["A"]


@dataclass(frozen=True)
class DemoSettings:
    """hours: corpus size (all splits); updates / batch_seconds: the budget of each of the two students;
    best_method: the KD recipe run beside ``hard_only`` (None: the best KD method of
    ``recipes/synthetic_commands/comparison.json``, else ``frame_kl``); teachers: recipe teacher name ->
    directory (the shipped ones); teacher_recipes: name -> the recipe that trains it when its directory is
    missing; teacher_minutes: the time box of such a training run on CPU (a GPU runs the recipe's own budget);
    teacher_overrides: name -> extra ``key=value`` for it (the tests shrink the teacher with it);
    bench_utterances: utterances per test manifest (None: all); student_overrides: Conformer config fields
    replaced (the tests shrink the student with it)."""

    hours: float = 1.0
    seed: int = 0
    updates: int = 1200
    batch_seconds: float = 60.0
    lr: float = 0.002
    warmup_updates: int = 150
    eval_every: int = 300
    student_size: str = "1m"
    student_overrides: dict = field(default_factory=dict)
    best_method: str | None = None
    # the CTC teacher (recipe name "w2v"): a CTC head on Whisper-base's pretrained encoder; the Whisper teacher:
    # whisper-base itself, from the installed speechdistill[whisper] wheels (nothing to train)
    teachers: dict = field(default_factory=lambda: {"w2v": "embedded_teachers/whisper_ctc", "whisper": "whisper-base"})
    teacher_recipes: dict = field(default_factory=lambda: {"w2v": "recipes/teachers/whisper_ctc.yaml"})
    teacher_minutes: float = 30.0  # a whisper-ctc head leaves the CTC plateau within minutes on CPU
    teacher_overrides: dict = field(default_factory=dict)
    side_by_side: bool = True  # the two students at once, one core each (on 2+ cores without a GPU)
    bench_utterances: int | None = 40
    bench_manifests: tuple[str, ...] = ("test", "test_unseen_voices", "test_noisy", "test_unseen_engine")
    bench_memory: bool = True
    pocketsphinx: bool = True
    faster_whisper: str | None = "whisper-base"  # a packaged Whisper benchmarked through faster-whisper (None: not)
    write_results: bool = True  # the "Demo" section of recipes/synthetic_commands/RESULTS.md

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> DemoSettings:
        data = dict(data)
        data["bench_manifests"] = tuple(data.get("bench_manifests", ()))
        return cls(**data)


FULL = DemoSettings()
QUICK = DemoSettings(hours=0.1, updates=60, batch_seconds=30.0, warmup_updates=10, eval_every=60,
                     bench_utterances=3, bench_manifests=("test", "test_unseen_voices"), bench_memory=False,
                     write_results=False)


def check_folder(out: Path, settings: DemoSettings, force: bool) -> None:
    """Record ``settings`` in ``out`` or check they match the recorded ones; ``force`` empties ``out`` first
    when it holds anything else."""
    path = out / SETTINGS_NAME
    if force and out.is_dir() and any(out.iterdir()):
        same = path.is_file() and DemoSettings.from_dict(json.loads(path.read_text())) == settings
        if not same:
            import shutil

            shutil.rmtree(out)
    if path.is_file():
        stored = DemoSettings.from_dict(json.loads(path.read_text()))
        if stored != settings and not force:
            changed = sorted(k for k, v in settings.to_dict().items() if stored.to_dict().get(k) != v)
            raise ValueError(f"{out}: holds a demo run with other settings (differs in {', '.join(changed)}); "
                             "choose another --out or pass --force to start it over")
    elif out.exists() and any(out.iterdir()) and not force:
        raise ValueError(f"{out}: exists and is not a demo folder (no {SETTINGS_NAME}); choose another --out or --force")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings.to_dict(), indent=2) + "\n")
