"""``ftcore inspect``: list a model's variables, nodes or layers with shapes; nothing is run.

Unsafe graph content is listed with an ``# UNSAFE ops`` note, not refused (it is never run).

    $ ftcore inspect runs/slim                       # variables of the newest checkpoint
    $ ftcore inspect model.pb --grep Predictions     # nodes, and the sidecar's inputs/outputs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ftcore.app.verb import add_verb
from ftcore.errors import FtcoreError, InvalidFileError, first_line
from ftcore.file_kinds import KINDS, check_file, model_kind, read_file
from ftcore.text_table import format_table

HELP = "list a model's variables, nodes or layers with shapes"

#: (headers, rows, notes): a table of what a file holds, and ``# `` lines printed below it.
Listing = tuple[list[str], list[list[object]], list[str]]
GRAPH_HEADERS = ["node", "op", "output shapes"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "inspect", HELP, run)
    p.add_argument("path", help="checkpoint dir or prefix, .meta, .pb, .keras or weights .h5")
    p.add_argument("--grep", metavar="TEXT", help="only rows whose name contains TEXT")
    return p


def run(args: argparse.Namespace) -> int:
    headers, rows, notes = inspect_rows(Path(args.path))
    if args.grep:
        rows = [r for r in rows if args.grep in str(r[0])]
    print(format_table(headers, rows))
    for note in notes:
        print(f"# {note}")
    return 0


def inspect_rows(path: Path) -> Listing:
    """(headers, rows, notes) describing what ``path`` holds; nothing in it is run."""
    kind = model_kind(path)
    if kind in ("tflite", "onnx"):
        raise FtcoreError(
            f"inspect reads .pb, .meta, .keras, .h5 files and checkpoints, not .{kind} ({path})"
        )
    listing = {"pb": _pb_rows, "meta": _meta_rows, "keras": _keras_rows, "h5": _h5_listing}
    return listing.get(kind, _checkpoint_rows)(path)


def _shape(t) -> str:
    return "?" if t.shape.rank is None else str(tuple(t.shape.as_list()))


def _graph_rows(graph_def, source: str) -> list[list[object]]:
    from ftcore.graph.names import import_graph

    graph = import_graph(graph_def, source=source)
    return [
        [op.name, op.type, ", ".join(_shape(t) for t in op.outputs) or "-"]
        for op in graph.get_operations()
    ]


def _unsafe_note(bad: list[tuple[str, str]]) -> list[str]:
    shown = ", ".join(f"{n} ({op})" for n, op in bad)
    return [f"UNSAFE ops (refused without --trust): {shown}"] if bad else []


def _pb_rows(path: Path) -> Listing:
    from ftcore.export import read_sidecar
    from ftcore.graph.safety import parse_graph_def, unsafe_nodes

    graph_def = parse_graph_def(read_file(path, KINDS["pb"]), str(path))
    notes = [f"{len(graph_def.node)} nodes", *_unsafe_note(unsafe_nodes(graph_def))]
    sidecar = read_sidecar(path)
    if sidecar is not None:
        notes.append(f"inputs: {[(t.name, t.shape) for t in sidecar.inputs]}")
        notes.append(f"outputs: {[(t.name, t.shape) for t in sidecar.outputs]}")
        notes.append(f"preprocessing: {sidecar.preprocessing}; labels: {sidecar.labels}")
    return GRAPH_HEADERS, _graph_rows(graph_def, str(path)), notes


def _meta_rows(path: Path) -> Listing:
    from ftcore.graph.safety import meta_allowed_ops, read_meta_graph_def, unsafe_nodes

    graph_def = read_meta_graph_def(path).graph_def
    rows = _graph_rows(graph_def, str(path))
    bad = unsafe_nodes(graph_def, meta_allowed_ops(graph_def))
    return GRAPH_HEADERS, rows, [f"{len(rows)} nodes", *_unsafe_note(bad)]


def _layer_shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a layer used several times has no single output
        return "-"


def _keras_rows(path: Path) -> Listing:
    from ftcore.predict import load_keras_model

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


def _h5_listing(path: Path) -> Listing:
    rows = _h5_rows(path)
    return ["weight", "shape", "dtype"], rows, [f"{len(rows)} weight arrays"]


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


def _checkpoint_rows(path: Path) -> Listing:
    from ftcore.graph import checkpoint_contents, resolve_checkpoint

    prefix = resolve_checkpoint(path)
    rows = [[v.name, v.shape, v.dtype] for v in checkpoint_contents(prefix, verify=True)]
    return (
        ["variable", "shape", "dtype"],
        rows,
        [f"checkpoint {prefix}: {len(rows)} variables", *_meta_notes(prefix)],
    )


def _meta_notes(prefix: str) -> list[str]:
    """What the checkpoint's own ``.meta`` would bring in, when it has one."""
    from ftcore.graph.safety import meta_allowed_ops, read_meta_graph_def, unsafe_nodes

    meta = Path(prefix + ".meta")
    if not meta.exists():
        return ["no meta graph (.meta): restore it into a graph built in code"]
    try:
        graph_def = read_meta_graph_def(meta).graph_def
    except FtcoreError as e:
        return [f"meta graph unusable: {e}"]
    bad = unsafe_nodes(graph_def, meta_allowed_ops(graph_def))
    return [f"meta graph {meta.name}: {len(graph_def.node)} nodes", *_unsafe_note(bad)]
