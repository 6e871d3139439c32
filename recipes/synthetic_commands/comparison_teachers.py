"""Teacher facts for the method comparison: each teacher's WER per split and one-thread RTF, and the student's.

Measured once by ``compare.py --teachers`` and kept beside the run records as small tracked files,
``comparison_runs/_teachers/<teacher>.json`` and ``comparison_runs/_student_rtf.json``. Each carries a
fingerprint (the teacher's weights digest and decoding, the evaluation manifests; the student's architecture)
so that facts of a changed teacher, corpus or student are named and left out, never silently reused.

WER comes from the package's own evaluation (``speechdistill eval``); the teachers are decoded as the recipes
read them (beam search with the recipe's ``beam_size`` when it sets one, else greedy), the students greedily.
RTF: batch 1 on one thread (``speechdistill.bench.timing.time_one_thread``), median over the first
``RTF_UTTERANCES`` utterances of the ``RTF_SPLIT`` test split, the same audio for teachers and student.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

RTF_SPLIT = "test"  # the test split whose first utterances are timed (the first test split when absent)
RTF_UTTERANCES = 20
RTF_WARMUP = 2  # untimed calls before timing
STUDENT_RTF = "_student_rtf.json"
TEACHERS_DIR = "_teachers"


def sha256_of(paths: list[Path]) -> str:
    """The first 16 hex digits of one sha256 over the files' bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@functools.cache
def weights_digest(spec: str) -> str:
    """A teacher's identity in a fingerprint: the digest of its safetensors (hashed once per process, although
    every run and every record asks), or its name when it is a hub id (or a folder still to be made)."""
    folder = Path(spec)
    if not folder.is_dir():
        return spec
    weights = sorted(folder.glob("*.safetensors"))
    return sha256_of(weights) if weights else f"no safetensors in {spec}"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _file_digest(path: str) -> str:
    return sha256_of([Path(path)]) if Path(path).is_file() else f"missing:{path}"


def eval_splits(config) -> dict[str, str]:
    """Split -> manifest: dev and every test split of a resolved recipe (its ``data`` section)."""
    return {"dev": config.data.dev, **config.data.test}


def rtf_manifest(config) -> str:
    """The manifest whose first utterances are timed."""
    return config.data.test.get(RTF_SPLIT) or next(iter(config.data.test.values()))


def compared_teachers(configs: list) -> dict:
    """Teacher name -> its TeacherSpec, over every external teacher some loss of these resolved recipes reads."""
    from speechdistill.distill.plan import plan_recipe

    found: dict = {}
    for config in configs:
        for name in sorted(plan_recipe(config).requests):
            spec = config.teachers[name]
            if spec.spec.startswith("self:"):  # a streaming student's own full-context mode
                continue
            if name in found and (found[name].spec, found[name].beam_size) != (spec.spec, spec.beam_size):
                raise ValueError(f"teacher {name!r} is {found[name].spec} in one compared recipe and {spec.spec} "
                                 "in another: the teacher facts are kept per name")
            found[name] = spec
    return dict(sorted(found.items()))


def decoding(teacher) -> str:
    """How a teacher is decoded for its WER and RTF, in words: as the recipes read it."""
    words = [f"beam {teacher.beam_size}" if teacher.beam_size else "greedy"]
    if teacher.window_s:
        words.append(f"{teacher.window_s:g} s window")
    if teacher.backend != "torch":
        words.append(f"{teacher.backend} {teacher.compute_type}")
    return ", ".join(words)


def load_options(teacher) -> dict:
    """How ``speechdistill.load`` / ``speechdistill eval`` open a teacher as the recipes do."""
    return {"window_s": teacher.window_s, "teacher_backend": teacher.backend, "compute_type": teacher.compute_type}


def teacher_fingerprint(teacher, config) -> dict:
    """What makes two measurements of a teacher the same: its weights, decoding and the audio it is scored on."""
    splits = {split: _file_digest(path) for split, path in eval_splits(config).items()}
    return {"spec": teacher.spec, "weights": weights_digest(teacher.spec), "decoding": decoding(teacher),
            "eval": _digest({"splits": splits, "dev_max_utterances": config.data.dev_max_utterances}),
            "rtf_audio": rtf_fingerprint(config)}


def rtf_fingerprint(config) -> str:
    return _digest({"manifest": _file_digest(rtf_manifest(config)), "utterances": RTF_UTTERANCES})


def student_fingerprint(config) -> dict:
    """What makes two RTF measurements of the students the same: their architecture and the timed audio."""
    from speechdistill.config import config_to_dict

    return {"architecture": _digest(config_to_dict(config.student)), "rtf_audio": rtf_fingerprint(config)}


def teacher_path(records: Path, name: str) -> Path:
    return records / TEACHERS_DIR / f"{name}.json"


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _write(path: Path, facts: dict) -> None:
    from speechdistill.io import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(facts, indent=1) + "\n")


def changed(old: dict, new: dict) -> str:
    """Which parts of a fingerprint differ, in words."""
    return ", ".join(key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)) or "nothing"


def read_facts(records: Path, teachers: dict, config, stale: list[str]) -> tuple[dict, dict | None]:
    """The teachers (name -> spec and, when fresh facts are recorded, their figures) and the student's RTF
    facts (None when missing or stale); stale ones are appended to ``stale`` by name."""
    out = {}
    for name, teacher in teachers.items():
        facts, wanted = _read(teacher_path(records, name)), teacher_fingerprint(teacher, config)
        if facts is not None and facts["fingerprint"] != wanted:
            stale.append(f"{TEACHERS_DIR}/{name} ({changed(facts['fingerprint'], wanted)} changed)")
            facts = None
        out[name] = {"spec": teacher.spec, "decoding": decoding(teacher),
                     **({k: v for k, v in facts.items() if k != "fingerprint"} if facts else {})}
    student, wanted = _read(records / STUDENT_RTF), student_fingerprint(config)
    if student is not None and student["fingerprint"] != wanted:
        stale.append(f"{STUDENT_RTF} ({changed(student['fingerprint'], wanted)} changed)")
        student = None
    return out, student


def teacher_relative(row: dict, teachers: dict, student: dict | None) -> dict:
    """A row's WER against each measured teacher's (split -> student / teacher) and each teacher's one-thread
    RTF against the student's (teacher / student: how many times faster the student runs; same CPU only)."""
    relative = {name: {split: row[f"{split}_wer"] / wer for split, wer in facts["wer"].items()
                       if f"{split}_wer" in row and wer > 0}
                for name, facts in teachers.items() if "wer" in facts}
    ratio = {name: facts["rtf_1thread"]["median"] / student["rtf_1thread"]["median"]
             for name, facts in teachers.items()
             if "rtf_1thread" in facts and student and facts["cpu"] == student["cpu"]}
    return {"relative_to_teacher": relative, "rtf_ratio": ratio}


def cpu_name() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def measure(configs: list, baseline, records: Path, student_dir: Path | None) -> None:
    """Measure (or keep, when fresh) the facts of every teacher these recipes read, and the student's RTF (timed
    again whenever a teacher is, so that the RTF ratios come from one sitting on one machine).
    ``baseline``: the resolved recipe whose data are scored; ``student_dir``: a finished student to time."""
    teachers = compared_teachers(configs)
    splits = eval_splits(baseline)
    print(f"teacher facts: {len(teachers)} teacher(s), WER on {', '.join(splits)}, one-thread RTF on the first "
          f"{RTF_UTTERANCES} utterances of {rtf_manifest(baseline)}", flush=True)
    measured = False
    for name, teacher in teachers.items():
        path, wanted = teacher_path(records, name), teacher_fingerprint(teacher, baseline)
        old = _read(path)
        if old is not None and old["fingerprint"] == wanted:
            print(f"  {name}: kept {path} (same weights, decoding and audio)", flush=True)
            continue
        print(f"  {name}: {teacher.spec}, {decoding(teacher)} decoding", flush=True)
        _write(path, {"name": name, **measure_teacher(teacher, splits, baseline), "fingerprint": wanted})
        measured = True
    wanted = student_fingerprint(baseline)
    old = _read(records / STUDENT_RTF)
    if old is not None and old["fingerprint"] == wanted and not measured:
        print(f"  student: kept {records / STUDENT_RTF}", flush=True)
    elif student_dir is None:
        print("  student: no finished baseline run of these settings to time: run it first (--only); until then "
              "the RTF ratios read '-'", flush=True)
    else:
        print(f"  student: {student_dir}, greedy decoding", flush=True)
        timing = one_thread_rtf(str(student_dir), rtf_manifest(baseline), "greedy", None, {})
        _write(records / STUDENT_RTF, {"student": str(student_dir), **timing, "fingerprint": wanted})


def measure_teacher(teacher, splits: dict[str, str], config) -> dict:
    """WER per split (``speechdistill eval``'s evaluation; dev cut to the recipe's ``dev_max_utterances``) and
    the one-thread RTF of one teacher."""
    import torch

    from speechdistill.eval.evaluate import EvalOptions, evaluate

    device = "cuda" if torch.cuda.is_available() else "cpu"
    decoder, beam = ("beam", teacher.beam_size) if teacher.beam_size else ("greedy", None)
    wer, counts = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for split, manifest in splits.items():
            if split == "dev":
                manifest = _first_lines(manifest, config.data.dev_max_utterances, Path(scratch) / "dev.jsonl")
            start = time.perf_counter()
            result = evaluate(EvalOptions(model=teacher.spec, manifest=manifest, decoder=decoder, beam_size=beam,
                                          device=device, progress=False, **load_options(teacher)))
            wer[split], counts[split] = result.metrics["wer"], result.metrics["num_utterances"]
            print(f"    {split}: {counts[split]} utterances, WER {wer[split] * 100:.1f}% "
                  f"({time.perf_counter() - start:.0f} s on {device})", flush=True)
    timing = one_thread_rtf(teacher.spec, rtf_manifest(config), decoder, beam, load_options(teacher))
    return {"spec": teacher.spec, "decoding": decoding(teacher), "wer": wer, "utterances": counts,
            "wer_device": device, **timing}


def _first_lines(manifest: str, limit: int | None, scratch: Path) -> str:
    """A JSONL manifest cut to its first ``limit`` entries (the dev subset training scores); others as they are."""
    path = Path(manifest)
    if limit is None or path.suffix != ".jsonl" or not path.is_file():
        return manifest
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if len(lines) <= limit:
        return manifest
    scratch.write_text("\n".join(lines[:limit]) + "\n")
    return str(scratch)


class _Timed:
    """A loaded recogniser as ``time_one_thread`` drives it (batch in, text out, a thread count to pin)."""

    def __init__(self, recognizer):
        self.recognizer, self.sample_rate = recognizer, recognizer.sample_rate

    def transcribe(self, waveforms: list) -> list[str]:
        return self.recognizer.transcribe_waveforms(waveforms)

    def threads(self, n: int):
        from speechdistill.threads import torch_threads

        return torch_threads(n)


def one_thread_rtf(model_path: str, manifest: str, decoder: str, beam_size: int | None, options: dict) -> dict:
    """Median batch-1 RTF on one CPU thread over the first ``RTF_UTTERANCES`` utterances of ``manifest``;
    ``options``: ``speechdistill.load`` keywords (a Whisper teacher's window and backend)."""
    from speechdistill.bench.timing import time_one_thread
    from speechdistill.data.audio import load_audio
    from speechdistill.data.errors import SkipReport
    from speechdistill.data.manifests import read_manifest
    from speechdistill.eval.evaluate import decode_settings
    from speechdistill.inference import load

    recognizer = load(model_path, device="cpu", **options)
    with tempfile.TemporaryDirectory() as scratch:
        decode, _ = decode_settings(recognizer, model_path, Path(scratch), decoder=decoder, beam_size=beam_size)
    recognizer.set_decode(decode)
    utterances = read_manifest(manifest, labelled=True, report=SkipReport("raise"), vocab=None)[:RTF_UTTERANCES]
    audio = [(u.id, load_audio(u.audio_path, recognizer.sample_rate, recognizer.max_duration_s)) for u in utterances]
    run = time_one_thread(_Timed(recognizer), audio, warmup=min(RTF_WARMUP, len(audio)))
    audio_s = sum(r.audio_s for r in run.records)
    print(f"    one-thread RTF {run.rtf_median:.4f} (median of {len(audio)} utterances, {audio_s:.0f} s of audio)",
          flush=True)
    return {"params": recognizer.num_parameters, "cpu": cpu_name(),
            "rtf_1thread": {"median": run.rtf_median, "p90": run.rtf_p90, "rtfx": run.rtfx,
                            "utterances": len(run.records), "audio_s": audio_s}}
