"""Streaming students: WER at full context, 640 ms and 320 ms chunks; per-chunk compute, end-of-speech-to-final
latency and real-time factor on one thread; sizes; beside the offline bundle.

Usage: (from the repository root)
    python benchmarks/streaming.py --students runs/distill/streaming_hard_only/best runs/distill/streaming_kd/best
        --manifest runs/corpus/test.jsonl [--offline-bundle runs/demo/bundle] [--chunks 16 8] [--left-chunks 4]
        [--max-utterances 300] [--precision int8] [--out DIR] [--work DIR]

For each student:

1. PyTorch, greedy: WER with full-context attention and at each chunk size (the chunk-masked full sequence,
   equal to chunk-by-chunk decoding with caches; tests/students/test_streaming.py);
2. ``speechdistill export --streaming`` at each chunk size (``--work``), then the torch-free streaming runner
   (the loop sherpa-onnx runs) on one thread, audio fed in 0.1 s pieces: WER, compute per chunk (ONNX
   run), the compute from the last audio sample to the final result (``finish``: the runner's tail padding,
   0.7 s at 640 ms and 0.4 s at 320 ms, its fbank and the chunks left), and RTF (all compute, fbank included, / audio seconds);
3. the offline bundle, when given, on the same utterances (onnxruntime, one thread, batch 1): WER and RTF.

Targets (issue 17): WER at 640 ms <= 1.15x the same student's full-context WER; streaming_kd below
streaming_hard_only; RTF <= 0.005 and final result <= 100 ms of compute after the last chunk.
Writes ``results.json`` and ``streaming.md`` into ``--out`` (default
``benchmarks/results/<YYYY-MM-DD>_streaming``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WER_RATIO_TARGET = 1.15  # 640 ms chunk WER against full context
RTF_TARGET = 0.005
FINAL_MS_TARGET = 100.0
PIECE_S = 0.1


def read_utterances(manifest: Path, limit: int | None) -> list[dict]:
    """NeMo JSONL rows (audio paths resolved against the manifest's folder), the first ``limit`` of them."""
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()][:limit]
    for row in rows:
        row["audio_filepath"] = str((manifest.parent / row["audio_filepath"]).resolve())
    return rows


def torch_wer(student_dir: Path, rows: list[dict], chunks: list[int]) -> dict[str, float]:
    """{"full": WER, "16": WER, ...} of the PyTorch student, greedy, batch by batch on one thread."""
    import torch

    from speechdistill.data.audio import load_audio
    from speechdistill.decode.greedy import greedy_decode
    from speechdistill.eval.metrics import wer
    from speechdistill.students import load_student

    loaded = load_student(student_dir)
    refs = [r["text"] for r in rows]
    result = {}
    with torch.inference_mode():
        signals = [torch.as_tensor(load_audio(r["audio_filepath"])) for r in rows]
        for chunk in [0, *chunks]:
            hyps = []
            for start in range(0, len(signals), 16):
                part = signals[start:start + 16]
                lengths = torch.tensor([len(s) for s in part])
                batch = torch.zeros(len(part), int(lengths.max()))
                for i, s in enumerate(part):
                    batch[i, : len(s)] = s
                out = loaded.model(batch, lengths, chunk_frames=chunk)
                hyps.extend(greedy_decode(out.logits, out.lengths, loaded.vocab))
            result["full" if chunk == 0 else str(chunk)] = wer(refs, hyps)
    return result


def runner_figures(bundle: Path, rows: list[dict], precision: str) -> dict:
    """The streaming runner on one thread: WER, per-chunk compute, final-result latency, RTF (see the module doc)."""
    from speechdistill.eval.metrics import wer
    from speechdistill.runtime import StreamingRecognizer, read_audio

    recognizer = StreamingRecognizer(bundle, precision, threads=1, endpoint=None)
    chunk_ms, final_ms, hyps = [], [], []
    compute_s = audio_s = 0.0
    session_run = recognizer.session.run

    def timed_run(*args, **kwargs):
        started = time.perf_counter()
        out = session_run(*args, **kwargs)
        chunk_ms.append((time.perf_counter() - started) * 1000)
        return out

    recognizer.session.run = timed_run  # count each chunk's ONNX run
    warm = recognizer.create_stream()
    warm.accept_waveform(np.zeros(16_000, np.float32))
    warm.finish()
    chunk_ms.clear()
    step = int(PIECE_S * recognizer.sample_rate)
    for row in rows:
        signal = read_audio(row["audio_filepath"], recognizer.sample_rate)
        stream = recognizer.create_stream()
        started = time.perf_counter()
        for start in range(0, len(signal), step):
            stream.accept_waveform(signal[start:start + step])
            stream.decode_ready()
        before_final = time.perf_counter()
        stream.finish()
        done = time.perf_counter()
        final_ms.append((done - before_final) * 1000)
        compute_s += done - started
        audio_s += len(signal) / recognizer.sample_rate
        hyps.append(stream.text)
    return {"wer": wer([r["text"] for r in rows], hyps), "chunk_ms_median": float(np.median(chunk_ms)),
            "chunk_ms_p90": float(np.percentile(chunk_ms, 90)), "final_ms_median": float(np.median(final_ms)),
            "final_ms_p90": float(np.percentile(final_ms, 90)), "rtf": compute_s / audio_s,
            "size_mb": os.path.getsize(recognizer.info.model_file(recognizer.precision)) / 1e6}


def offline_figures(bundle: Path, rows: list[dict], precision: str) -> dict:
    """The offline bundle on one thread, batch 1: WER, RTF and size."""
    from speechdistill.eval.metrics import wer
    from speechdistill.runtime import BundleRecognizer, read_audio

    recognizer = BundleRecognizer(bundle, precision, threads=1)
    recognizer.transcribe(np.zeros(16_000, np.float32))  # warm-up
    hyps, compute_s, audio_s = [], 0.0, 0.0
    for row in rows:
        signal = read_audio(row["audio_filepath"], recognizer.sample_rate)
        started = time.perf_counter()
        hyps.append(recognizer.transcribe(signal))
        compute_s += time.perf_counter() - started
        audio_s += len(signal) / recognizer.sample_rate
    return {"wer": wer([r["text"] for r in rows], hyps), "rtf": compute_s / audio_s,
            "size_mb": recognizer.model.size_bytes / 1e6}


def measure(args) -> dict:
    """Every figure for every student (and the offline bundle)."""
    from speechdistill.export.streaming import export_streaming_bundle
    from speechdistill.threads import torch_threads

    load_at_start = list(os.getloadavg())  # timings on a shared machine are only as good as its idleness
    rows = read_utterances(args.manifest, args.max_utterances)
    students = {}
    for student_dir in args.students:
        name = student_dir.parent.name if student_dir.name == "best" else student_dir.name
        with torch_threads(1):
            entry = {"path": str(student_dir), "torch_wer": torch_wer(student_dir, rows, args.chunks), "runner": {}}
        for chunk in args.chunks:
            bundle = args.work / name / f"chunk{chunk}"
            export_streaming_bundle(student_dir, bundle, chunk_frames=chunk, left_chunks=args.left_chunks)
            entry["runner"][str(chunk)] = runner_figures(bundle, rows, args.precision)
        students[name] = entry
        print(f"{name}: {json.dumps(entry)}", flush=True)
    offline = offline_figures(args.offline_bundle, rows, args.precision) if args.offline_bundle else None
    return {"date": datetime.date.today().isoformat(), "manifest": str(args.manifest), "utterances": len(rows),
            "precision": args.precision, "left_chunks": args.left_chunks, "chunks": args.chunks,
            "machine": {"cpu": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count(),
                        "python": platform.python_version(), "load_average_at_start": load_at_start,
                        "load_average_at_end": list(os.getloadavg())},
            "students": students, "offline": offline}


def render(result: dict) -> str:
    """streaming.md: one row per student x mode, then the targets."""
    lines = [f"# Streaming students ({result['date']})", "",
             f"{result['utterances']} utterances of `{result['manifest']}`; runner: {result['precision']} ONNX, one "
             f"thread, audio in {PIECE_S * 1000:g} ms pieces, {result['left_chunks']} left chunks. WER in percent. "
             f"Load average {', '.join(f'{x:.2f}' for x in result['machine']['load_average_at_start'])} at start "
             f"on {result['machine']['logical_cpus']} logical CPUs (timings need an otherwise idle machine).", "",
             "| student | mode | runtime | WER | compute per chunk (ms, median / p90) | final result after last "
             "sample (ms, median / p90) | RTF | size (MB) |", "|---|---|---|---|---|---|---|---|"]
    for name, entry in result["students"].items():
        lines.append(f"| {name} | full context | PyTorch | {entry['torch_wer']['full'] * 100:.2f} | – | – | – | – |")
        for chunk in result["chunks"]:
            ms = chunk * 40
            lines.append(f"| {name} | {ms} ms chunks | PyTorch | {entry['torch_wer'][str(chunk)] * 100:.2f} "
                         "| – | – | – | – |")
            r = entry["runner"][str(chunk)]
            lines.append(f"| {name} | {ms} ms chunks | streaming runner | {r['wer'] * 100:.2f} | "
                         f"{r['chunk_ms_median']:.2f} / {r['chunk_ms_p90']:.2f} | {r['final_ms_median']:.1f} / "
                         f"{r['final_ms_p90']:.1f} | {r['rtf']:.4f} | {r['size_mb']:.2f} |")
    if result["offline"]:
        o = result["offline"]
        lines.append(f"| offline bundle | full context | onnxruntime | {o['wer'] * 100:.2f} | – | – | "
                     f"{o['rtf']:.4f} | {o['size_mb']:.2f} |")
    return "\n".join([*lines, "", *targets(result)]) + "\n"


def targets(result: dict) -> list[str]:
    """The issue's targets, each with its measured value and whether it is met."""
    out = ["## Targets", ""]
    for name, entry in result["students"].items():
        if "16" in entry["torch_wer"]:
            ratio = entry["torch_wer"]["16"] / max(entry["torch_wer"]["full"], 1e-9)
            out.append(f"- {name}: WER at 640 ms / full context = {ratio:.2f} (target <= {WER_RATIO_TARGET}): "
                       f"{'met' if ratio <= WER_RATIO_TARGET else 'missed'}")
        for chunk, r in entry["runner"].items():
            met = r["rtf"] <= RTF_TARGET and r["final_ms_p90"] <= FINAL_MS_TARGET
            out.append(f"- {name}, chunk {chunk}: RTF {r['rtf']:.4f} (<= {RTF_TARGET}), final result p90 "
                       f"{r['final_ms_p90']:.1f} ms (<= {FINAL_MS_TARGET:g}): {'met' if met else 'missed'}")
    students = result["students"]
    if "streaming_kd" in students and "streaming_hard_only" in students:
        kd, hard = (students[n]["torch_wer"].get("16") for n in ("streaming_kd", "streaming_hard_only"))
        if kd is not None and hard is not None:
            out.append(f"- streaming_kd vs streaming_hard_only at 640 ms: {kd * 100:.2f}% vs {hard * 100:.2f}%: "
                       f"{'met' if kd < hard else 'missed'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", nargs="+", type=Path, required=True, help="streaming student directories")
    parser.add_argument("--manifest", type=Path, required=True, help="labelled NeMo JSONL manifest")
    parser.add_argument("--offline-bundle", type=Path, help="an offline bundle to compare with (speechdistill export)")
    parser.add_argument("--chunks", nargs="+", type=int, default=[16, 8], help="chunk sizes in 40 ms frames")
    parser.add_argument("--left-chunks", type=int, default=4)
    parser.add_argument("--max-utterances", type=int, default=300)
    parser.add_argument("--precision", choices=("int8", "fp32"), default="int8")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "streaming_bench", help="exported bundles")
    args = parser.parse_args(argv)
    args.out = args.out or REPO / "benchmarks" / "results" / f"{datetime.date.today().isoformat()}_streaming"
    result = measure(args)
    from speechdistill.io import atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "results.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(args.out / "streaming.md", render(result))
    print(f"wrote {args.out / 'streaming.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
