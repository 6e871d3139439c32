"""Peak resident memory of inference, measured in a separate process.

Usage (what :func:`measure_memory` runs; ``AUDIO.npz`` holds float32 arrays at the model's rate):
    python -m speechdistill.bench.memory --runtime torch-fp32 --model DIR --audio AUDIO.npz [--threads 1]

The child process imports only numpy and the runtime's own libraries (``Runtime.preload``), then reads
its peak resident set size: the *baseline* (interpreter + libraries). It then loads the model and
transcribes each clip, batch 1, and reads the peak again: the *peak* of the whole process. Both are
reported; ``peak - baseline`` is what the model and its inference add. MB are 10^6 bytes.

The peak is ``VmHWM`` from ``/proc/self/status`` on Linux, not ``getrusage(RUSAGE_SELF).ru_maxrss``:
Linux carries ``ru_maxrss`` across ``execve``, and Python starts children with vfork, so a child's
``ru_maxrss`` starts at the *parent's* peak (hundreds of MB of benchmark process). ``VmHWM`` belongs to
the new address space only. Elsewhere ``ru_maxrss`` is the fallback (kilobytes on Linux, bytes on macOS).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KIB = 1024  # VmHWM and Linux's ru_maxrss are in KiB
MB = 1_000_000
PROBE_TIMEOUT_S = 3600


@dataclass(frozen=True)
class MemoryFigures:
    """Peak RSS of the probe process after imports (``baseline_mb``) and after inference (``peak_mb``)."""

    baseline_mb: float
    peak_mb: float
    utterances: int

    @property
    def delta_mb(self) -> float:
        return self.peak_mb - self.baseline_mb


def max_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (``VmHWM``; ``ru_maxrss`` where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * KIB / MB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / MB if sys.platform == "darwin" else rss * KIB / MB


def measure_memory(runtime: str, model: str, waveforms: Sequence[np.ndarray], threads: int = 1) -> MemoryFigures:
    """Run the probe in a fresh interpreter on ``waveforms`` and return its figures."""
    with tempfile.TemporaryDirectory() as scratch:
        audio = Path(scratch) / "audio.npz"
        np.savez(audio, *[np.asarray(w, np.float32) for w in waveforms])
        command = [sys.executable, "-m", "speechdistill.bench.memory", "--runtime", runtime, "--model", model,
                   "--audio", str(audio), "--threads", str(threads)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"memory probe for {model} ({runtime}) failed (exit {done.returncode}):\n{tail}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return MemoryFigures(figures["baseline_mb"], figures["peak_mb"], figures["utterances"])


def probe(runtime_name: str, model_path: str, audio: str | Path, threads: int) -> dict:
    """The child's side: baseline after imports, peak after loading and transcribing every clip."""
    from .runtimes import get_runtime

    runtime = get_runtime(runtime_name)
    runtime.preload()
    with np.load(audio) as stored:
        waveforms = [stored[key] for key in stored.files]
    baseline = max_rss_mb()
    model = runtime.open(model_path)
    with model.threads(threads):
        for waveform in waveforms:
            model.transcribe([waveform])
    return {"baseline_mb": baseline, "peak_mb": max_rss_mb(), "utterances": len(waveforms)}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m speechdistill.bench.memory``: prints one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--audio", required=True, type=Path)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.runtime, args.model, args.audio, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
