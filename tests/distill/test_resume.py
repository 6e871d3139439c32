"""`speechdistill distill` killed with SIGKILL mid-run resumes with --resume and ends where an
uninterrupted run ends: only the remaining updates run, and the final parameters are bit-identical.

The run to kill is a subprocess (the CLI, as a user starts it); the uninterrupted reference and the
resumed run use the CLI in this process, one thread each like the subprocess, which saves two start-ups.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from speechdistill.cli import main
from speechdistill.threads import torch_threads
from speechdistill.train.loop import read_log

from .helpers import SYNTHETIC, tiny_overrides, tiny_teachers, write_tiny_corpus

UPDATES = 8
POLL_S = 0.005
START_TIMEOUT_S = 240.0


def _command(recipe: Path, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "speechdistill", "distill", str(recipe), *overrides]


def _kill_after_first_checkpoint(proc: subprocess.Popen, state_file: Path, outcome: dict) -> None:
    """Poll for the first checkpoint, then SIGKILL ``proc``; record what happened in ``outcome``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_file.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            outcome["error"] = f"no checkpoint before exit ({proc.poll()}) or timeout"
            proc.kill()
            return
        time.sleep(POLL_S)
    proc.send_signal(signal.SIGKILL)
    outcome["returncode"] = proc.wait()


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path, tiny_teacher_dir):
    corpus, teachers = write_tiny_corpus(tmp_path / "corpus"), tiny_teachers(tiny_teacher_dir)
    recipe = SYNTHETIC / "frame_kl.yaml"  # live teacher, hard CTC + frame KL; SpecAugment and dropout on

    def overrides(out: Path) -> list[str]:
        return tiny_overrides(corpus, teachers, out, updates=UPDATES, checkpoint_every=2, eval_every=100)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    killed = subprocess.Popen(_command(recipe, overrides(tmp_path / "run")), env=env,
                              stdout=subprocess.DEVNULL, stderr=(tmp_path / "killed.log").open("w"))
    last = tmp_path / "run" / "checkpoints" / "last"
    outcome: dict = {}
    watcher = threading.Thread(target=_kill_after_first_checkpoint, args=(killed, last / "trainer_state.json", outcome))
    watcher.start()
    with torch_threads(1):  # the uninterrupted reference runs in this process while the other one starts
        assert main(["distill", str(recipe), *overrides(tmp_path / "reference")]) == 0
    watcher.join()
    assert outcome.get("returncode") == -signal.SIGKILL, (outcome, (tmp_path / "killed.log").read_text()[-3000:])
    done = json.loads((last / "trainer_state.json").read_text())["update"]
    assert 2 <= done < UPDATES, f"killed after update {done}: nothing left to resume"
    print(f"killed after update {done} of {UPDATES}")
    logged = len(read_log(tmp_path / "run"))

    with torch_threads(1):  # the subprocess runs with OMP_NUM_THREADS=1: same kernels, same bits
        assert main(["distill", str(recipe), *overrides(tmp_path / "run"), "--resume"]) == 0

    new_rows = read_log(tmp_path / "run")[logged:]
    assert [r["update"] for r in new_rows if r["split"] == "train"] == list(range(done + 1, UPDATES + 1))
    final = load_file(last / "model.safetensors")
    expected = load_file(tmp_path / "reference" / "checkpoints" / "last" / "model.safetensors")
    assert final.keys() == expected.keys()
    for key in expected:
        assert torch.equal(final[key], expected[key]), key
    assert json.loads((last / "trainer_state.json").read_text())["update"] == UPDATES
