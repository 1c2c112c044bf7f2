"""``ftcore predict``: the top-k classes of images with any model ftcore loads.

$ ftcore predict model.pb cat.jpg --top 3
$ ftcore predict model.onnx cat.jpg      # last line: "# onnx model, run by onnxruntime 1.x"
$ ftcore predict runs/slim cat.jpg --output MobilenetV2/Predictions/Reshape_1
$ ftcore predict model.tflite photos/ --output predictions.csv --top 3

With one folder, every image under it (recursively) is predicted a batch at a time into the CSV
``--output`` names (see :mod:`ftcore.app.predict_folder`); files that cannot be read are listed
on stderr with the reason and the exit status is :data:`BAD_FILES_EXIT`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftcore.app.verb import add_verb, read_labels
from ftcore.errors import FtcoreError

HELP = "top-k classes of images with a model"
BAD_FILES_EXIT = 3  # a folder's CSV was written, but some files could not be read


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "predict", HELP, run)
    p.epilog = (
        f"With a folder: exit status {BAD_FILES_EXIT} when some files could not be read "
        "(the CSV holds the others; stderr lists each with its reason)."
    )
    p.add_argument(
        "model", help="frozen .pb, .tflite or .onnx (with sidecar), .keras model or checkpoint dir"
    )
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files, or one folder (needs --output)"
    )
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument(
        "--output",
        metavar="NAME",
        help="with image files: the output tensor (checkpoints, or .pb without sidecar); "
        "with a folder: the CSV file to write (FILE.csv)",
    )
    p.add_argument("--output-tensor", metavar="NAME", help="the output tensor, also with a folder")
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
    if any(Path(i).is_dir() for i in args.images):
        return _run_folder(args, kwargs)
    if args.output and args.output_tensor:
        raise FtcoreError("give the output tensor once: --output or --output-tensor")
    with load(args.model, output=args.output or args.output_tensor, **kwargs) as predictor:
        for path, preds in zip(
            args.images, predictor.top_k_images(args.images, args.top), strict=True
        ):
            print(path)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p.label:<24} {p.score:.4f}")
        print(f"# {predictor.kind} model, run by {predictor.runtime}")
    return 0


def _run_folder(args: argparse.Namespace, kwargs: dict) -> int:
    from ftcore.app.predict_folder import image_files, predict_folder
    from ftcore.app.progress import Progress
    from ftcore.predict import load

    if len(args.images) != 1:
        raise FtcoreError(f"give one folder or image files, not both: {args.images}")
    files = image_files(args.images[0])
    if not args.output:
        raise FtcoreError(f"predicting folder {args.images[0]} needs --output FILE.csv")
    if not args.output.lower().endswith(".csv"):
        raise FtcoreError(
            f"with a folder, --output names the CSV file to write (FILE.csv), got {args.output!r}; "
            "name an output tensor with --output-tensor"
        )
    with load(args.model, output=args.output_tensor, **kwargs) as predictor:
        bar = Progress(len(files), f"predict {args.images[0]}")
        rows, bad = predict_folder(predictor, files, args.output, args.top, progress=bar.update)
    print(
        f"wrote {rows} predictions to {args.output} ({predictor.kind} model, {predictor.runtime})"
    )
    if bad:
        print(f"{len(bad)} file(s) could not be read (not in {args.output}):", file=sys.stderr)
        for b in bad:
            print(f"  {b}", file=sys.stderr)
        return BAD_FILES_EXIT
    return 0
