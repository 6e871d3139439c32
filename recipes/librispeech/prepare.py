"""Data preparation for the LibriSpeech recipes: manifests from a download, pseudo-labels for unlabelled audio.

    # LibriSpeech as downloaded from openslr.org/12 (ROOT holds train-clean-100/, dev-clean/, ...)
    python recipes/librispeech/prepare.py manifests --librispeech ROOT [--out data/librispeech]
    # or any Hugging Face dataset saved with save_to_disk (columns audio + text), one split per manifest
    python recipes/librispeech/prepare.py manifests --hf DATASET_DIR --hf-splits train.clean.100 ...
    # unlabelled audio (a folder of audio files or an unlabelled manifest) -> a manifest of teacher transcripts
    python recipes/librispeech/prepare.py pseudo-label --teacher openai/whisper-small --audio DIR --out M.jsonl

``manifests`` writes one NeMo JSONL per split (absolute audio paths, normalised text) and a ``train_960``
manifest joining the training subsets that exist. ``pseudo-label`` transcribes with any teacher
``speechdistill.load`` opens (greedy for CTC teachers, beam search for Whisper) and writes the text as the
label, marked ``"pseudo_label": true``; train on it like any labelled manifest, or keep the audio
unlabelled and let the teacher's outputs alone teach (``data.unlabelled: true``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from speechdistill.data.errors import SkipReport
from speechdistill.data.manifests import read_manifest
from speechdistill.data.records import Utterance
from speechdistill.io import atomic_write_text
from speechdistill.progress import progress_bar

SPLITS = {"train_clean_100": "train-clean-100", "train_clean_360": "train-clean-360",
          "train_other_500": "train-other-500", "dev_clean": "dev-clean", "dev_other": "dev-other",
          "test_clean": "test-clean", "test_other": "test-other"}
TRAIN_SPLITS = ("train_clean_100", "train_clean_360", "train_other_500")
AUDIO_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3", ".opus")


def manifest_lines(utterances: list[Utterance], **extra) -> str:
    return "".join(json.dumps({"audio_filepath": str(Path(u.audio_path).resolve()), "duration": round(u.duration_s, 4),
                               "text": u.text, "speaker": u.speaker, **extra}) + "\n" for u in utterances)


def write_manifests(splits: dict[str, list[Utterance]], out: Path) -> dict[str, Path]:
    """One ``<split>.jsonl`` per split plus ``train_960.jsonl`` (every training subset present)."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, utterances in splits.items():
        written[name] = atomic_write_text(out / f"{name}.jsonl", manifest_lines(utterances))
    train = [u for name in TRAIN_SPLITS for u in splits.get(name, [])]
    if train:
        written["train_960"] = atomic_write_text(out / "train_960.jsonl", manifest_lines(train))
    return written


def librispeech_splits(root: Path, report: SkipReport) -> dict[str, list[Utterance]]:
    """Every LibriSpeech subset found under ``root``; none found is an error naming what was looked for."""
    found = {name: read_manifest(root / folder, report=report) for name, folder in SPLITS.items()
             if (root / folder).is_dir()}
    if not found:
        raise FileNotFoundError(f"{root}: no LibriSpeech subset folders ({', '.join(SPLITS.values())})")
    return found


def hf_splits(dataset: Path, splits: list[str], report: SkipReport) -> dict[str, list[Utterance]]:
    """One list per split, named like the LibriSpeech manifests (``validation.clean`` -> ``dev_clean``)."""
    return {split.replace("validation", "dev").replace(".", "_").replace("-", "_"):
            read_manifest(dataset, split=split, report=report) for split in splits}


def audio_files(source: Path) -> list[Utterance]:
    """Unlabelled utterances from a folder of audio files (recursively) or any unlabelled manifest."""
    if source.is_dir() and not any((source / m).exists() for m in ("wav.scp", "dataset_info.json", "state.json")):
        import soundfile as sf

        paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not paths:
            raise FileNotFoundError(f"{source}: no audio files ({', '.join(AUDIO_SUFFIXES)}) below it")
        return [Utterance(p.stem, p, sf.info(str(p)).duration, None, None) for p in paths]
    return read_manifest(source, labelled=False)


def pseudo_label(teacher: str, source: Path, out: Path, *, device: str = "cpu", batch_seconds: float = 120.0,
                 beam_size: int | None = None) -> Path:
    """Transcribe ``source`` with ``teacher`` and write a labelled manifest of its transcripts to ``out``."""
    import speechdistill
    from speechdistill.decode.beam import BeamSearchOptions
    from speechdistill.inference import DecodeOptions

    recognizer = speechdistill.load(teacher, device=device)
    if recognizer.family == "whisper":
        recognizer.set_decode(DecodeOptions("beam", BeamSearchOptions(beam_size=beam_size or 5)))
    utterances = audio_files(source)
    texts = []
    chunk = 64
    for start in progress_bar(range(0, len(utterances), chunk), desc="pseudo-labelling", unit="batch"):
        paths = [str(u.audio_path) for u in utterances[start:start + chunk]]
        texts.extend(recognizer.transcribe(paths, batch_seconds=batch_seconds))
    labelled = [Utterance(u.id, u.audio_path, u.duration_s, text, u.speaker) for u, text in zip(utterances, texts)]
    empty = sum(not t for t in texts)
    kept = [u for u in labelled if u.text]
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, manifest_lines(kept, pseudo_label=True, teacher=teacher))
    print(f"{len(kept)} utterances pseudo-labelled by {teacher} -> {out}"
          + (f" ({empty} with an empty transcript left out)" if empty else ""), file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("manifests", help="NeMo manifests from LibriSpeech folders or an HF dataset on disk")
    source = m.add_mutually_exclusive_group(required=True)
    source.add_argument("--librispeech", type=Path, help="folder holding train-clean-100/, dev-clean/, ...")
    source.add_argument("--hf", type=Path, help="a Hugging Face dataset saved with save_to_disk")
    m.add_argument("--hf-splits", nargs="+", default=["train", "validation", "test"])
    m.add_argument("--out", type=Path, default=Path("data/librispeech"))
    m.add_argument("--skip-bad", action="store_true", help="skip unreadable entries and write skipped.jsonl")
    p = sub.add_parser("pseudo-label", help="a labelled manifest of a teacher's transcripts of unlabelled audio")
    p.add_argument("--teacher", required=True, help="hub id or model directory")
    p.add_argument("--audio", type=Path, required=True, help="folder of audio files or an unlabelled manifest")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--device", default="cuda" if _has_cuda() else "cpu")
    p.add_argument("--beam-size", type=int, default=None, help="Whisper beams (default 5)")
    args = parser.parse_args(argv)
    if args.command == "pseudo-label":
        pseudo_label(args.teacher, args.audio, args.out, device=args.device, beam_size=args.beam_size)
        return 0
    report = SkipReport("skip" if args.skip_bad else "raise")
    splits = (librispeech_splits(args.librispeech, report) if args.librispeech
              else hf_splits(args.hf, args.hf_splits, report))
    for name, path in write_manifests(splits, args.out).items():
        print(f"{name}: {path}", file=sys.stderr)
    if len(report):
        print(f"{report.summary()}; see {report.write(args.out / 'skipped.jsonl')}", file=sys.stderr)
    return 0


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(main())
