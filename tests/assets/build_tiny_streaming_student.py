"""Rebuild tests/assets/tiny_streaming_student: a ~0.15M-parameter streaming Conformer-CTC that emits words.

It is over-fitted on the clips of tests/assets/tiny_student (not copied into the asset), so that the
streaming export tests compare sherpa-onnx's online WeNet-CTC recogniser with speechdistill's own streaming
runner on real words, not on blank output. It is not a useful recogniser. Each clip is trained with 1 s of
digital silence after it: streaming runners feed silence after the last word to flush the last chunk, and a
model over-fitted on 24 tightly cut clips babbles on silence it never saw.

    .venv/bin/python tests/assets/build_tiny_streaming_student.py            # ~10 min on 2 CPU cores

Plain CTC (recipes/synthetic_commands/streaming_hard_only.yaml's method: dynamic chunks, half the batches
full context) on the 24 clips, then the best checkpoint (dev WER at the eval chunk) becomes the asset.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIPS = HERE / "tiny_student"
ASSET = HERE / "tiny_streaming_student"
STUDENT = {"d_model": 64, "num_layers": 3, "num_heads": 4, "subsampling_channels": 8, "conv_kernel": 15,
           "dropout": 0.0, "spec_augment": False, "streaming": True, "chunk_frames": 16, "left_chunks": 4,
           "max_train_chunk_frames": 16, "full_context_prob": 0.3}
UPDATES = 800
TAIL_S = 1.0


def speechdistill(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "speechdistill.cli", *args], check=True)


def pad_clips(out: Path) -> Path:
    """Copies of the clips with silence after them, and their manifest."""
    import numpy as np
    import soundfile as sf

    out.mkdir(parents=True)
    rows = [json.loads(line) for line in (CLIPS / "manifest.jsonl").read_text().splitlines()]
    lines = []
    for index, row in enumerate(rows):
        audio, rate = sf.read(CLIPS / row["audio_filepath"], dtype="float32")
        padded = np.concatenate([audio, np.zeros(int(TAIL_S * rate), np.float32)])
        path = out / f"{index:02d}.flac"
        sf.write(path, padded, rate)
        lines.append(json.dumps({**row, "audio_filepath": str(path), "duration": len(padded) / rate}))
    manifest = out / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = pad_clips(tmp / "clips")
        recipe = HERE.parent.parent / "recipes" / "synthetic_commands" / "hard_only.yaml"
        overrides = [f"out_dir={tmp / 'run'}", f"data.train={manifest}", f"data.dev={manifest}", "data.test={}",
                     "teachers={}", "student.size=0.5m", f"student.overrides={json.dumps(STUDENT)}",
                     f"train.max_updates={UPDATES}", "train.lr=0.003", "train.warmup_updates=50",
                     "train.batch_seconds=30", "train.eval_every=100", "train.checkpoint_every=100",
                     "augment.speed_factors=[1.0]", "augment.noise_prob=0.0", "augment.gain_db=[0.0, 0.0]"]
        speechdistill("distill", str(recipe), *overrides)
        if ASSET.exists():
            shutil.rmtree(ASSET)
        shutil.copytree(tmp / "run" / "best", ASSET)
    size = sum(p.stat().st_size for p in ASSET.rglob("*") if p.is_file())
    print(f"wrote {ASSET} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
