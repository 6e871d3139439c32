"""Zero-shot WER of the packaged Whisper teachers on the synthetic corpus's dev and test splits.

Usage (from the repository root; the full measurement, every utterance of every split):
    OMP_NUM_THREADS=1 python benchmarks/whisper_zero_shot.py --corpus runs/corpus \
        [--models whisper-tiny.en whisper-base] [--backends torch ctranslate2] [--compute-type int8] \
        [--splits dev test test_noisy test_unseen_voices test_unseen_engine] [--limit N] [--threads 1] [--out DIR]

Each model x backend x split goes through ``speechdistill.eval.evaluate`` (the same loading, greedy
decoding, normaliser and scorer as ``speechdistill eval``): no fine-tuning, English prompt, no
timestamps, 30 s encoder window. ``--backends ctranslate2`` decodes the torch encoder's output with
CTranslate2 in ``--compute-type``. ``--limit N`` takes the first N utterances of each split (a smoke run).
Writes ``results.json`` (one entry per run: WER, CER, 95% bootstrap interval, utterances, RTF) and
``whisper_zero_shot.md`` into ``--out`` (default ``benchmarks/results/<YYYY-MM-DD>_whisper_zero_shot``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path

from speechdistill.data.manifests import read_manifest, write_nemo_manifest
from speechdistill.eval.evaluate import EvalOptions, evaluate
from speechdistill.io import atomic_write_text
from speechdistill.threads import torch_threads

SPLITS = ("dev", "test", "test_noisy", "test_unseen_voices", "test_unseen_engine")
MODELS = ("whisper-tiny.en", "whisper-base")


def split_manifest(corpus: Path, split: str, limit: int | None, scratch: Path) -> Path:
    """The split's manifest, or a copy of its first ``limit`` utterances."""
    path = corpus / f"{split}.jsonl"
    if limit is None:
        return path
    utterances = read_manifest(path, labelled=True, vocab=None)[:limit]
    return write_nemo_manifest(scratch / f"{split}.jsonl", utterances)


def run_one(model: str, backend: str, compute_type: str, manifest: Path) -> dict:
    """One ``evaluate`` call; the figures the table needs."""
    metrics = evaluate(EvalOptions(model=model, manifest=str(manifest), decoder="greedy", lexicon="none",
                                   device="cpu", teacher_backend=backend, compute_type=compute_type,
                                   progress=False)).metrics
    keep = ("wer", "cer", "wer_ci95", "num_utterances", "ref_words", "substitutions", "deletions", "insertions",
            "audio_s", "model_s", "rtf")
    return {key: metrics[key] for key in keep}


def markdown(results: dict) -> str:
    run = results["run"]
    splits = list(dict.fromkeys(r["split"] for r in results["rows"]))
    lines = ["# Whisper zero-shot on the synthetic corpus", "",
             f"Greedy, English, no timestamps, 30 s window; {run['threads']} thread(s); corpus {run['corpus']}; "
             f"{run['limit'] or 'all'} utterances per split; {run['date']}, commit {run['commit']}. "
             "WER in percent (95% bootstrap interval); RTF = decoding time / audio on this machine "
             f"(load average {run['load_average']} at start).", "",
             "| model | backend | " + " | ".join(splits) + " | RTF |", "|---|---|" + "---|" * (len(splits) + 1)]
    runs = list(dict.fromkeys((r["model"], r["backend"]) for r in results["rows"]))
    for model, backend in runs:
        rows = {r["split"]: r for r in results["rows"] if (r["model"], r["backend"]) == (model, backend)}
        cells = [f"{100 * rows[s]['wer']:.1f} ({100 * rows[s]['wer_ci95'][0]:.1f}-{100 * rows[s]['wer_ci95'][1]:.1f})"
                 for s in splits]
        audio, model_s = sum(r["audio_s"] for r in rows.values()), sum(r["model_s"] for r in rows.values())
        lines.append(f"| {model} | {backend} | " + " | ".join(cells) + f" | {model_s / audio:.3f} |")
    lines += ["", f"Command: `{run['command']}`"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("runs/corpus"))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--backends", nargs="+", choices=("torch", "ctranslate2"), default=["torch"])
    parser.add_argument("--compute-type", default="int8", help="CTranslate2 compute type (ctranslate2 backend)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS))
    parser.add_argument("--limit", type=int, default=None, help="first N utterances of each split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from speechdistill.bench.environment import git_commit

    date = datetime.date.today().isoformat()
    run = {"date": date, "commit": git_commit()[0][:12], "corpus": str(args.corpus), "limit": args.limit,
           "threads": args.threads, "compute_type": args.compute_type,
           "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()), "command": "python " + " ".join(sys.argv)}
    rows = []
    with tempfile.TemporaryDirectory() as scratch, torch_threads(args.threads):
        manifests = {split: split_manifest(args.corpus, split, args.limit, Path(scratch)) for split in args.splits}
        for model in args.models:
            for backend in args.backends:
                for split, manifest in manifests.items():
                    row = {"model": model, "backend": backend, "split": split,
                           **run_one(model, backend, args.compute_type, manifest)}
                    print(f"{model} {backend} {split}: WER {100 * row['wer']:.1f}% ({row['num_utterances']} utt, "
                          f"RTF {row['rtf']:.3f})", flush=True)
                    rows.append(row)
    results = {"run": run, "rows": rows}  # no "header": update_readme.py passes this folder by
    out = args.out or Path("benchmarks/results") / f"{date}_whisper_zero_shot"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "whisper_zero_shot.md", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
