"""``ftcore predict``: the top-k classes of images with any model ftcore loads.

$ ftcore predict model.pb cat.jpg --top 3
$ ftcore predict model.onnx cat.jpg      # last line: "# onnx model, run by onnxruntime 1.x"
$ ftcore predict runs/slim cat.jpg --output MobilenetV2/Predictions/Reshape_1
"""

from __future__ import annotations

import argparse

from ftcore.app.verb import add_verb, read_labels
from ftcore.errors import FtcoreError

HELP = "top-k classes of images with a model"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "predict", HELP, run)
    p.add_argument(
        "model", help="frozen .pb, .tflite or .onnx (with sidecar), .keras model or checkpoint dir"
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument(
        "--output", metavar="NAME", help="output tensor (checkpoints, or .pb without sidecar)"
    )
    p.add_argument("--labels", metavar="FILE", help="class names, one per line")
    p.add_argument(
        "--trust",
        action="store_true",
        help="load a model with file/code ops, Lambda layers or non-standard ONNX ops",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from ftcore.predict import load

    if args.top < 1:
        raise FtcoreError(f"--top must be at least 1, got {args.top}")
    kwargs = {"labels": read_labels(args.labels), "trust": args.trust}
    with load(args.model, output=args.output, **kwargs) as predictor:
        for path, preds in zip(
            args.images, predictor.top_k_images(args.images, args.top), strict=True
        ):
            print(path)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p.label:<24} {p.score:.4f}")
        print(f"# {predictor.kind} model, run by {predictor.runtime}")
    return 0
