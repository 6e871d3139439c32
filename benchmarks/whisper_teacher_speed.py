"""Whisper teacher inference on CPU: N-best with the torch and CTranslate2 backends, and a full teacher cache.

Usage (from the repository root; the full measurement):
    OMP_NUM_THREADS=2 python benchmarks/whisper_teacher_speed.py --teacher whisper-base \
        --manifest runs/corpus/train.jsonl --limit 200 --threads 2 [--nbest 4] [--layers 3 6] [--batch 8] \
        [--torch-limit N] [--out DIR]

On a sample of ``--limit`` utterances (seeded draw from the manifest) the torch encoder runs once (30 s
window, or ``--window-s``; timed: "encoder only"), then each decoder runs over the same encoder states:
Hugging Face (torch) and CTranslate2 int8 and float32, greedy and ``--nbest``-best (beams = N). A row's
time is its decoder's plus the encoder's share of its audio (the end-to-end cost); torch's N-best runs on
the first ``--torch-limit`` utterances only (it is by far the slowest). Last, the full cache:
``build_cache`` (teacher load included) with the CTranslate2 int8 backend, ``--nbest`` lists and the
encoder layers ``--layers`` (the issue's target: at most 10 minutes per audio hour on 2 cores).

Speed is minutes per hour of audio (and the real-time factor) in CPU time of this process (all threads;
the figure a shared machine does not inflate) and in wall time. Quality: the 1-best texts of
each CTranslate2 run against torch's (share of utterances with the same text) and the 1-best WER against
the references. Writes ``results.json`` and ``whisper_teacher_speed.md`` into ``--out`` (default
``benchmarks/results/<YYYY-MM-DD>_whisper_teacher_speed``). Figures depend on what else runs on the
machine: the load average at start is recorded.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

from speechdistill.cache import CacheConfig, build_cache
from speechdistill.data.audio import load_audio
from speechdistill.data.manifests import read_manifest, write_nemo_manifest
from speechdistill.decode.beam import BeamSearchOptions
from speechdistill.eval.metrics import wer
from speechdistill.io import atomic_write_text
from speechdistill.teachers import load_teacher
from speechdistill.teachers.whisper import spoken_text
from speechdistill.threads import torch_threads

COMPUTE_TYPES = ("int8", "float32")
TARGET_MIN_PER_HOUR = 10.0  # issue 14: a full Whisper-base cache in at most 10 min per audio hour on 2 cores


def sample(manifest: str, limit: int, seed: int = 0) -> list:
    """``limit`` utterances drawn without replacement (seeded), in manifest order."""
    utterances = read_manifest(manifest, labelled=True, vocab=None)
    chosen = sorted(random.Random(seed).sample(range(len(utterances)), min(limit, len(utterances))))
    return [utterances[i] for i in chosen]


class Clock:
    """Wall and CPU seconds (this process, all its threads) of a block: CPU time is what a busy machine
    does not inflate (with one thread, wall time also counts the time other processes held the core)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def encode(teacher, audio: list, batch: int) -> tuple[Clock, list]:
    """(clock, encoder states per batch): the torch encoder alone, in batches of ``batch``."""
    states = []
    with Clock() as clock, torch.inference_mode():
        for start in range(0, len(audio), batch):
            features = teacher._features(teacher.prepare_audio(audio[start:start + batch]))
            states.append(teacher.model.model.encoder(features).last_hidden_state)
    return clock, states


def decode(teacher, states: list, beams: int, limit: int) -> tuple[Clock, list[str]]:
    """(clock, 1-best texts) of decoding the first ``limit`` items of ``states`` (greedy when ``beams`` is 1)."""
    texts = []
    with Clock() as clock:
        for batch in states:
            if len(texts) >= limit:
                break
            batch = batch[:limit - len(texts)]
            if beams == 1 and teacher.decoder is None:
                texts += greedy_torch(teacher, batch)
            else:
                texts += [items[0][0] for items in teacher._beam_candidates(batch, beams)]
    return clock, texts


def greedy_torch(teacher, states) -> list[str]:
    """Hugging Face greedy decoding of encoder ``states`` (what ``WhisperRecognizer`` does after encoding)."""
    from transformers import GenerationMixin
    from transformers.modeling_outputs import BaseModelOutput

    prompt = torch.tensor([teacher.prompt] * states.shape[0])
    with torch.inference_mode():
        rows = GenerationMixin.generate(teacher.model, encoder_outputs=BaseModelOutput(last_hidden_state=states),
                                        decoder_input_ids=prompt, num_beams=1, do_sample=False,
                                        max_length=teacher.model.config.max_target_positions)
    eos = teacher.model.generation_config.eos_token_id
    return [spoken_text(teacher.processor.tokenizer, [t for t in row if t != eos])
            for row in rows[:, prompt.shape[1]:].tolist()]


def speed(wall_s: float, cpu_s: float, audio_s: float) -> dict:
    """Wall and CPU seconds, and per hour of audio (minutes) and real-time factors of each."""
    return {"wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 2), "audio_s": round(audio_s, 2),
            "rtf_wall": round(wall_s / audio_s, 4), "rtf_cpu": round(cpu_s / audio_s, 4),
            "wall_min_per_audio_hour": round(wall_s / audio_s * 60, 2),
            "cpu_min_per_audio_hour": round(cpu_s / audio_s * 60, 2)}


def run(args: argparse.Namespace) -> dict:
    """Encode once, then time each decoder over the same encoder states (end to end = encoder + decoder)."""
    utterances = sample(args.manifest, args.limit, args.seed)
    audio = [load_audio(u.audio_path, 16_000) for u in utterances]
    refs = [u.text for u in utterances]
    durations = [len(a) / 16_000 for a in audio]
    n_torch = min(args.torch_limit or len(audio), len(audio))
    beam = BeamSearchOptions(beam_size=args.nbest)
    rows: dict = {}
    with torch_threads(args.threads):
        teachers = {"torch": load_teacher(args.teacher, beam=beam, window_s=args.window_s)}
        for compute_type in COMPUTE_TYPES:
            teachers[f"ctranslate2 {compute_type}"] = load_teacher(
                args.teacher, beam=beam, window_s=args.window_s, backend="ctranslate2", compute_type=compute_type)
        encoder, states = encode(teachers["torch"], audio, args.batch)
        wall_rate, cpu_rate = encoder.wall / sum(durations), encoder.cpu / sum(durations)  # per audio second
        rows["encoder only (torch fp32)"] = speed(encoder.wall, encoder.cpu, sum(durations))
        reference = {}
        for beams in (1, args.nbest):
            kind = "greedy" if beams == 1 else f"{beams}-best"
            for name, teacher in teachers.items():
                n = n_torch if (name == "torch" and beams > 1) else len(audio)
                clock, texts = decode(teacher, states, beams, n)
                audio_s = sum(durations[:n])
                row = {**speed(clock.wall + wall_rate * audio_s, clock.cpu + cpu_rate * audio_s, audio_s),
                       "decoder_cpu_s": round(clock.cpu, 2), "utterances": n, "wer": round(wer(refs[:n], texts), 4)}
                if name == "torch":
                    reference[beams] = texts
                else:
                    same = sum(a == b for a, b in zip(texts, reference[beams]))
                    compared = min(n, len(reference[beams]))
                    row.update(same_1best_as_torch=f"{same}/{compared}", agreement=round(same / compared, 4))
                rows[f"{name} {kind}"] = row
        clock = full_cache(args, utterances)
        rows[f"full cache (ctranslate2 int8, {args.nbest}-best + layers {args.layers})"] = {
            **speed(clock.wall, clock.cpu, sum(durations)), "utterances": len(audio)}
    return {"utterances": len(audio), "audio_s": round(sum(durations), 2), "rows": rows}


def full_cache(args: argparse.Namespace, utterances: list) -> Clock:
    """Wall and CPU time of a complete ``build_cache`` (teacher load included) over the sample, in a scratch dir."""
    with tempfile.TemporaryDirectory() as scratch:
        manifest = write_nemo_manifest(Path(scratch) / "sample.jsonl", utterances)
        config = CacheConfig(teacher=args.teacher, manifest=str(manifest), out_dir=str(Path(scratch) / "cache"),
                             top_k=0, nbest=args.nbest, beam_size=args.nbest, hidden_layers=tuple(args.layers),
                             device="cpu", window_s=args.window_s, backend="ctranslate2", compute_type="int8",
                             batch_seconds=args.batch * 3.0)
        with Clock() as clock:
            assert build_cache(config).complete
        return clock


def markdown(results: dict) -> str:
    lines = [f"# Whisper teacher inference speed: {results['teacher']}", "",
             f"{results['utterances']} utterances ({results['audio_s']:.0f} s of audio) of {results['manifest']}; "
             f"{results['threads']} thread(s), load average at start {results['load_average']}; "
             f"{results['date']}.", "",
             "| run | utterances | CPU s (decoder) | wall s | RTF (CPU) | CPU min / audio hour | "
             "wall min / audio hour | 1-best WER | 1-best = torch |", "|---|---|---|---|---|---|---|---|---|"]
    for name, row in results["rows"].items():
        wer_text = f"{100 * row['wer']:.1f}%" if "wer" in row else ""
        cpu = f"{row['cpu_s']} ({row['decoder_cpu_s']})" if "decoder_cpu_s" in row else f"{row['cpu_s']}"
        lines.append(f"| {name} | {row.get('utterances', results['utterances'])} | {cpu} | {row['wall_s']} | "
                     f"{row['rtf_cpu']} | {row['cpu_min_per_audio_hour']} | {row['wall_min_per_audio_hour']} | "
                     f"{wer_text} | {row.get('same_1best_as_torch', '')} |")
    lines += ["", f"Target (issue 14): full cache <= {TARGET_MIN_PER_HOUR:g} min per audio hour on 2 cores (with "
              "both cores free and perfect scaling, wall time would be CPU time / 2). Process niceness at the end: "
              f"{results['nice_at_end']}.", "",
              f"Command: `{results['command']}`"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", default="whisper-base")
    parser.add_argument("--manifest", default="runs/corpus/train.jsonl")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--torch-limit", type=int, default=None, help="utterances for the torch N-best row")
    parser.add_argument("--nbest", type=int, default=4)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 6])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--window-s", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    date = datetime.date.today().isoformat()
    results = {"teacher": args.teacher, "manifest": args.manifest, "threads": args.threads, "date": date,
               "window_s": args.window_s, "load_average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
               "command": "python " + " ".join(sys.argv), **run(args), "nice_at_end": os.nice(0)}
    out = args.out or Path("benchmarks/results") / f"{date}_whisper_teacher_speed"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "whisper_teacher_speed.md", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
