"""``ftcore freeze``: a checkpoint or Keras model to an optimized, self-checked ``.pb``, or it
(or a ``.pb``) to ``.tflite``, float or full-integer int8, or to ``.onnx``; each with its JSON
sidecar.

    $ ftcore freeze runs/slim --output model.pb --outputs MobilenetV2/Predictions/Reshape_1
    $ ftcore freeze model.keras --format tflite --int8 photos/ --output model.tflite
    $ ftcore freeze model.pb --format onnx --output model.onnx
"""

from __future__ import annotations

import argparse

from ftcore.app.verb import add_verb, read_labels
from ftcore.errors import FtcoreError
from ftcore.file_kinds import KINDS, model_kind

HELP = (
    "freeze a checkpoint or Keras model to an optimized .pb, or convert it (or a .pb) to "
    ".tflite or .onnx"
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "freeze", HELP, run)
    p.add_argument(
        "model",
        help="TF1 checkpoint dir or prefix (with .meta), a .keras model, or (tflite, onnx) a .pb",
    )
    p.add_argument(
        "--output", required=True, metavar="OUT", help="file to write (.pb/.tflite/.onnx)"
    )
    p.add_argument(
        "--format",
        choices=("pb", "tflite", "onnx"),
        default="pb",
        help="frozen graph (default), LiteRT or ONNX (onnxruntime; the onnx extra)",
    )
    p.add_argument(
        "--int8",
        metavar="DIR",
        help="tflite: full-integer int8, calibrated on the images in DIR (1 in 4 held out)",
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        metavar="F",
        help="int8: refuse below this top-1 agreement with the float model (default 0.9)",
    )
    p.add_argument("--outputs", metavar="NAME[,NAME]", help="output tensor(s) (checkpoints)")
    p.add_argument("--input", metavar="NAME", help="input placeholder (default: the only one)")
    p.add_argument("--labels", metavar="FILE", help="class names, one per line, for the sidecar")
    p.add_argument(
        "--preprocessing",
        help="input convention (default: a .pb's own sidecar, else mobilenet)",
    )
    p.add_argument("--no-optimize", action="store_true", help="skip BN folding / node stripping")
    p.add_argument(
        "--trust", action="store_true", help="skip the graph's safety check / Keras safe mode"
    )
    return p


def run(args: argparse.Namespace) -> int:
    from ftcore.sidecar import sidecar_path

    kind = model_kind(args.model)
    if kind in ("h5", "tflite", "onnx"):
        raise FtcoreError(
            f"cannot freeze {args.model} ({KINDS[kind]}): expected a checkpoint, a .keras model "
            "or (with --format tflite or onnx) a .pb"
        )
    sidecar = export(args, kind, freeze_options(args))
    print(f"wrote {args.output} and {sidecar_path(args.output)}")
    _print_check(args, sidecar)
    return 0


def freeze_options(args: argparse.Namespace) -> dict:
    """Export keyword arguments of the chosen ``--format``; refuse options of the other one.

    Labels and preprocessing are passed only when given, so a ``.pb`` source keeps its
    sidecar's (the exporters' own default is ``mobilenet``)."""
    options = {}
    if args.labels:
        options["labels"] = read_labels(args.labels)
    if args.preprocessing:
        options["preprocessing"] = args.preprocessing
    if args.format == "pb":
        if args.int8 or args.min_agreement is not None:
            raise FtcoreError("--int8 and --min-agreement need --format tflite")
        if model_kind(args.model) == "pb":
            raise FtcoreError(
                f"{args.model} is already frozen; convert it with --format tflite or onnx"
            )
        return {**options, "optimize_graph": not args.no_optimize}
    if args.format == "onnx":
        if args.int8 or args.min_agreement is not None or args.no_optimize:
            raise FtcoreError(
                "--int8, --min-agreement and --no-optimize do not apply to --format onnx"
            )
        return options
    if args.no_optimize:
        raise FtcoreError("--no-optimize applies to --format pb (the LiteRT converter optimizes)")
    if args.min_agreement is not None and not args.int8:
        raise FtcoreError("--min-agreement needs --int8 DIR")
    if args.int8:
        from ftcore.export import MIN_AGREEMENT, Int8

        threshold = MIN_AGREEMENT if args.min_agreement is None else args.min_agreement
        options["int8"] = Int8.from_folder(args.int8, threshold)
    return options


def export(args: argparse.Namespace, kind: str, options: dict):
    """Write ``args.output`` from ``args.model`` (of file kind ``kind``); returns its sidecar."""
    if args.format == "pb":
        from ftcore.export import pb as exporter
    elif args.format == "onnx":
        from ftcore.export import onnx as exporter
    else:
        from ftcore.export import litert as exporter
    outputs = [o.strip() for o in (args.outputs or "").split(",") if o.strip()]
    if kind == "keras":
        from ftcore.predict import load_keras_model

        model = load_keras_model(args.model, trust=args.trust)
        return exporter.export_keras(model, args.output, **options)
    if kind == "pb":
        return exporter.export_pb(
            args.model, args.output, outputs, input_name=args.input, trust=args.trust, **options
        )
    if not outputs:
        raise FtcoreError("freezing a checkpoint needs --outputs NAME[,NAME]")
    return exporter.export_checkpoint(
        args.model, args.output, outputs, input_name=args.input, trust=args.trust, **options
    )


def _print_check(args: argparse.Namespace, sidecar) -> None:
    """The written model's inputs and outputs, and what its self-check measured."""
    check = sidecar.check

    def describe(t):  # a .tflite may be int8 at both ends: show the dtype; .pb output unchanged
        return (t.name, t.shape, t.dtype) if args.format != "pb" else (t.name, t.shape)

    print(f"inputs: {[describe(t) for t in sidecar.inputs]}")
    print(f"outputs: {[describe(t) for t in sidecar.outputs]}")
    diffs = ", ".join(f"{k} {v:.2g}" for k, v in check.items() if k.endswith("max_abs_diff"))
    photos = f" and {len(check['photos'])} photos" if check.get("photos") else ""
    print(f"self-check on a {check['probe_shape']} probe batch{photos}: {diffs}")
    if "interpreter" in check:
        print(f"interpreter: {check['interpreter']}")
    if "runtime" in check:
        print(f"runtime: {check['runtime']} (opset {check['opset']})")
    if "int8" in check:
        q = check["int8"]
        print(
            f"int8: top-1 agreement with the float model {q['top1_agreement']:.3f} on "
            f"{q['held_out_images']} held-out images (threshold {q['min_agreement']:g}; "
            f"calibrated on {q['calibration_images']})"
        )
