"""`speechdistill eval` (WER/CER of a model on a manifest) and `speechdistill transcribe` (text for audio files)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _decoder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="teacher/student/bundle directory or hub id")
    parser.add_argument("--precision", choices=("int8", "fp32"), default="int8",
                        help="which graph of an exported bundle runs (bundles only)")
    parser.add_argument("--decoder", choices=("greedy", "beam"), default="greedy")
    parser.add_argument("--lexicon", default="auto",
                        help="beam search lexicon: auto (model's lexicon.txt or recorded training manifest), "
                             "none, a lexicon file, or a training manifest to build one from")
    parser.add_argument("--lm", help="KenLM model (.arpa or .bin) for beam search")
    parser.add_argument("--lm-weight", type=float, default=2.0)
    parser.add_argument("--beam-size", type=int, help="beams (default: 50 for CTC, 5 for Whisper)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--window-s", type=_positive_seconds, metavar="S",
                        help="Whisper teachers: encoder window in seconds (default: the model's own, 30 s for "
                             "OpenAI's); shorter is faster, measure the WER")
    parser.add_argument("--teacher-backend", choices=("torch", "ctranslate2"), default="torch",
                        help="Whisper teachers: decode with Hugging Face (torch) or CTranslate2 over the torch "
                             "encoder's output")
    parser.add_argument("--compute-type", choices=("int8", "int8_float32", "int16", "float32"), default="int8",
                        help="CTranslate2 compute type of --teacher-backend ctranslate2")


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` and ``transcribe`` commands."""
    ev = subparsers.add_parser("eval", help="WER and CER of a model on a labelled manifest")
    _decoder_arguments(ev)
    ev.add_argument("--manifest", required=True, help="labelled manifest (NeMo JSONL, Kaldi, LibriSpeech, HF)")
    ev.add_argument("--normalizer", choices=("default", "whisper"), default="default")
    ev.add_argument("--out", type=Path, help="write metrics.json, utterances.jsonl (and skipped.jsonl) here")
    ev.add_argument("--skip-bad", action="store_true", help="skip bad entries and write a report")
    ev.add_argument("--batch-seconds", type=float, default=60.0, help="padded audio seconds per batch")
    ev.set_defaults(handler=_eval)

    tr = subparsers.add_parser("transcribe", help="print path<TAB>text for audio files")
    _decoder_arguments(tr)
    tr.add_argument("audio", nargs="+", type=Path, help="audio files")
    tr.add_argument("--timestamps", action="store_true", help="add word@start-end (seconds), CTC models only")
    tr.add_argument("--stream", action="store_true",
                    help="streaming bundle: feed the audio in pieces, print partial results (stderr) and one "
                         "path<TAB>start<TAB>end<TAB>text line per endpointed utterance; '-' reads raw 16-bit "
                         "16 kHz mono PCM from stdin")
    tr.add_argument("--piece-ms", type=float, default=100.0, help="--stream: audio fed per step, in ms")
    tr.add_argument("--no-endpoint", dest="endpoint", action="store_false",
                    help="--stream: one utterance per input, no endpointing")
    tr.set_defaults(handler=_transcribe)


def _eval(args: argparse.Namespace) -> int:
    from ..eval.evaluate import EvalOptions, evaluate, summary_line

    options = EvalOptions(
        model=args.model, manifest=str(args.manifest), decoder=args.decoder, lexicon=args.lexicon, lm=args.lm,
        lm_weight=args.lm_weight, beam_size=args.beam_size, normalizer=args.normalizer,
        out=str(args.out) if args.out else None, skip_bad=args.skip_bad, batch_seconds=args.batch_seconds,
        device=args.device or _default_device(), precision=args.precision, window_s=args.window_s,
        teacher_backend=args.teacher_backend, compute_type=args.compute_type)
    result = evaluate(options)
    written = f"  -> {args.out}" if result.files else ""
    print(summary_line(result.metrics) + written)
    return 0


def _is_bundle(model: str) -> bool:
    from ..markers import read_marker

    path = Path(model).expanduser()
    marker = read_marker(path) if path.is_dir() else None
    return marker is not None and marker.kind == "bundle"


def _is_streaming_bundle(model: str) -> bool:
    from ..markers import read_marker

    path = Path(model).expanduser()
    marker = read_marker(path) if path.is_dir() else None
    return marker is not None and marker.kind == "bundle" and "streaming" in marker.extra


def _transcribe(args: argparse.Namespace) -> int:
    import tempfile

    if args.stream or (_is_streaming_bundle(args.model) and args.decoder == "greedy" and not args.timestamps):
        from .stream import transcribe_stream  # numpy + onnxruntime only

        return transcribe_stream(args)
    if _is_bundle(args.model) and args.decoder == "greedy" and not args.timestamps:
        from ..runtime import BundleRecognizer  # the on-device path: numpy + onnxruntime, no torch

        recognizer = BundleRecognizer(args.model, args.precision)
        for path, text in zip(args.audio, recognizer.transcribe([str(p) for p in args.audio])):
            print(f"{path}\t{text}")
        return 0

    from ..eval.evaluate import decode_settings
    from ..inference import load

    recognizer = load(args.model, device=args.device or _default_device(), precision=args.precision,
                      window_s=args.window_s, teacher_backend=args.teacher_backend, compute_type=args.compute_type)
    paths = [str(p) for p in args.audio]
    with tempfile.TemporaryDirectory() as scratch:  # holds a lexicon built from a manifest
        decode, _ = decode_settings(recognizer, args.model, Path(scratch), decoder=args.decoder,
                                    lexicon=args.lexicon, lm=args.lm, lm_weight=args.lm_weight,
                                    beam_size=args.beam_size)
        recognizer.set_decode(decode)
        if args.timestamps:
            for path, t in zip(paths, recognizer.transcribe_timed(paths)):
                words = " ".join(f"{w.word}@{w.start_s:.2f}-{w.end_s:.2f}" for w in t.words)
                print(f"{path}\t{t.text}\t{words}")
        else:
            for path, text in zip(paths, recognizer.transcribe(paths)):
                print(f"{path}\t{text}")
    return 0
