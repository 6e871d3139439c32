"""The repository's size budget (teachers issue): at most 30 MB of model weights tracked in git, so that the whole
tree plus the TTS wheels still fits the 64 MiB that can be carried to a GPU machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".bin", ".pt", ".pth", ".ckpt", ".npz")
BUDGET_BYTES = 30_000_000


def tracked_weights() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in listed.decode().split("\0") if name.endswith(WEIGHT_SUFFIXES)]


def test_tracked_weights_fit_the_budget():
    weights = tracked_weights()
    assert weights, "expected the shipped teacher, student and test weights to be tracked"
    sizes = {str(p.relative_to(REPO)): p.stat().st_size for p in weights if p.is_file()}
    total = sum(sizes.values())
    assert total <= BUDGET_BYTES, f"{total / 1e6:.1f} MB of weights tracked (budget 30 MB): {sizes}"
