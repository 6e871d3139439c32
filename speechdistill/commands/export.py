"""`speechdistill export`: a student directory -> an ONNX bundle for sherpa-onnx / onnxruntime."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    ex = subparsers.add_parser("export", help="export a student to an ONNX bundle (fp32 + int8, tokens.txt)")
    ex.add_argument("--model", required=True, type=Path, help="student directory (e.g. runs/distill/NAME/best)")
    ex.add_argument("--out", required=True, type=Path, help="bundle directory to write")
    ex.add_argument("--no-int8", dest="int8", action="store_false", help="skip model.int8.onnx")
    ex.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")
    ex.add_argument("--per-tensor", dest="per_channel", action="store_false",
                    help="int8 scales per tensor instead of per output channel")
    ex.add_argument("--streaming", action="store_true",
                    help="streaming student -> per-chunk graph for sherpa-onnx's OnlineRecognizer.from_wenet_ctc")
    ex.add_argument("--chunk-size", type=int, default=16, help="--streaming: chunk in 40 ms frames (16 = 640 ms)")
    ex.add_argument("--left-chunks", type=int, default=4, help="--streaming: chunks of left context cached")
    ex.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from ..export import export_bundle
    from ..export.onnx import DEFAULT_OPSET

    if args.streaming:
        from ..export.streaming import export_streaming_bundle

        done = export_streaming_bundle(args.model, args.out, chunk_frames=args.chunk_size, left_chunks=args.left_chunks,
                                       int8=args.int8, opset=args.opset or DEFAULT_OPSET, per_channel=args.per_channel)
        sizes = ", ".join(f"{p} {mb:.2f} MB" for p, mb in done.sizes_mb.items())
        print(f"streaming bundle written to {done.path} (chunk {done.chunk_frames} x 40 ms, {done.left_chunks} left "
              f"chunks; {sizes}; fp32 graph vs PyTorch max |diff| {done.max_abs_diff:.1e})")
        return 0

    result = export_bundle(args.model, args.out, int8=args.int8, opset=args.opset or DEFAULT_OPSET,
                           per_channel=args.per_channel)
    sizes = ", ".join(f"{p} {mb:.2f} MB" for p, mb in result.sizes_mb.items())
    print(f"bundle written to {result.path} ({sizes}; fp32 graph vs PyTorch max |diff| {result.max_abs_diff:.1e})")
    return 0
