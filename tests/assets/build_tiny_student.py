"""Rebuild tests/assets/tiny_student: a ~0.2M-parameter Conformer-CTC that emits words, for export parity tests.

It is over-fitted on a few dozen short synthetic commands (it is not a useful recogniser: the export tests
need a model whose greedy transcripts are non-blank words, so that ONNX/PyTorch/sherpa-onnx agreement
means something). The clips it was trained on are kept beside it (``audio/``, ``manifest.jsonl``).

    .venv/bin/python tests/assets/build_tiny_student.py            # ~5 min on 2 CPU cores

Steps: synthesise a small corpus (seed 3), keep the shortest train utterances, copy them here, run
``speechdistill distill`` with plain CTC on them, then save the best checkpoint in fp32 as the asset.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSET = HERE / "tiny_student"
NUM_UTTERANCES = 24
MAX_SECONDS = 2.2
STUDENT = {"d_model": 64, "num_layers": 3, "num_heads": 4, "subsampling_channels": 8, "conv_kernel": 15,
           "dropout": 0.0, "spec_augment": False}


def speechdistill(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "speechdistill.cli", *args], check=True)


def select(corpus: Path, out: Path) -> Path:
    """Copy the NUM_UTTERANCES shortest single-engine (espeak) train clips to ``out/audio``; write a manifest."""
    rows = [json.loads(line) for line in (corpus / "train.jsonl").read_text().splitlines()]
    rows = sorted((r for r in rows if r["engine"] == "espeak" and r["duration"] <= MAX_SECONDS),
                  key=lambda r: (r["duration"], r["audio_filepath"]))[:NUM_UTTERANCES]
    (out / "audio").mkdir(parents=True, exist_ok=True)
    lines = []
    for index, row in enumerate(rows):
        name = f"audio/{index:02d}.flac"
        shutil.copyfile(corpus / row["audio_filepath"], out / name)
        lines.append(json.dumps({"audio_filepath": name, "duration": row["duration"], "text": row["text"]}))
    manifest = out / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        speechdistill("corpus", "synth", "--out", str(tmp / "corpus"), "--hours", "0.15", "--seed", "3")
        staging = tmp / "asset"
        manifest = select(tmp / "corpus", staging)
        recipe = HERE.parent.parent / "recipes" / "synthetic_commands" / "hard_only.yaml"
        overrides = [f"out_dir={tmp / 'run'}", f"data.train={manifest}", f"data.dev={manifest}", "data.test={}",
                     "teachers={}", "student.size=0.5m", f"student.overrides={json.dumps(STUDENT)}",
                     "train.max_updates=600", "train.lr=0.003", "train.warmup_updates=50",
                     "train.batch_seconds=30", "train.eval_every=100", "train.checkpoint_every=100",
                     "augment.speed_factors=[1.0]", "augment.noise_prob=0.0", "augment.gain_db=[0.0, 0.0]"]
        speechdistill("distill", str(recipe), *overrides)
        if ASSET.exists():
            shutil.rmtree(ASSET)
        shutil.copytree(tmp / "run" / "best", ASSET)
        shutil.copytree(staging / "audio", ASSET / "audio")
        shutil.copyfile(manifest, ASSET / "manifest.jsonl")
    size = sum(p.stat().st_size for p in ASSET.rglob("*") if p.is_file())
    print(f"wrote {ASSET} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
