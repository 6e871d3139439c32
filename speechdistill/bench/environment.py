"""The header of results.json: which machine, threads, date, commit and library versions produced the figures."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess

from ..config import config_to_dict
from .config import BenchConfig

DEVICE_NOTE = "an x86 core stands in for a phone core"
MEMORY_NOTE = ("peak resident set size (VmHWM) of a separate probe process that loads the model and transcribes "
               "memory_utterances utterances, batch 1, one thread. peak_mem_mb: the whole process (interpreter, "
               "runtime libraries, model); peak_mem_delta_mb: the part above the baseline read after the "
               "runtime's imports (for torch-fp32 those include torch and transformers, hundreds of MB that an "
               "on-device runtime does not carry, so compare models by the delta). MB = 10^6 bytes")
LIBRARIES = ("torch", "onnxruntime", "pocketsphinx", "transformers", "jiwer", "ctranslate2", "faster-whisper")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit() -> tuple[str, bool]:
    """(HEAD's hash, whether tracked files differ from it); ('unknown', False) outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return head.strip(), bool(status.strip())


def versions() -> dict[str, str | None]:
    """Python's and each benchmark library's version (None: not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def run_header(config: BenchConfig, today: datetime.date, quick: bool) -> dict:
    """Everything a reader needs to judge the figures, recorded at the start of the run."""
    commit, dirty = git_commit()
    rtfx_threads = config.threads or os.cpu_count() or 1
    return {
        "name": config.name, "date": today.isoformat(), "commit": commit, "dirty": dirty, "quick": quick,
        "machine": cpu_model(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "threads": {"rtf": 1, "rtfx": rtfx_threads, "latency": 1, "memory_probe": 1},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "device_note": DEVICE_NOTE, "corpus": config.corpus,
        "memory": MEMORY_NOTE if config.memory_probe else "not measured (memory_probe: false)",
        **versions(), "config": config_to_dict(config),
    }
