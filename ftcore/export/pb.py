"""Export frozen, optimized GraphDefs from TF1 checkpoints and Keras models, with a sidecar.

Freezing turns variables into constants (``convert_variables_to_constants`` for TF1 sessions,
``convert_variables_to_constants_v2`` on a concrete function for Keras/TF2; see
:mod:`ftcore.export.kit`); :func:`ftcore.graph.optimize.optimize` then strips training nodes and
folds batch norm. Every export checks itself: the frozen and the optimized graph must reproduce
the restored model's outputs on a probe batch and on real photos within
``|frozen - restored| <= atol + rtol * |restored|`` (defaults ``atol=1e-4``, ``rtol=1e-3``),
else :class:`~ftcore.errors.MismatchError` with the numbers, and nothing is written.
The ``.pb`` and its JSON sidecar (``model.pb.json``: tensor names, shapes, dtype, preprocessing,
labels, the check's figures) are written atomically.

Entry points: :func:`export_checkpoint` (a Saver checkpoint with its ``.meta``),
:func:`export_session` (a live TF1 session), :func:`export_keras` (a Keras model).

    >>> import pathlib, tempfile
    >>> from ftcore_fixtures.build import ensure_built
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "model.pb"
    >>> sc = export_checkpoint(ensure_built().slim_ckpt_dir, out,
    ...                        outputs=["MobilenetV2/Predictions/Reshape_1"])
    >>> sc.inputs, sc.check["optimized_max_abs_diff"] < 1e-4, out.is_file()
    ([TensorInfo(name='input:0', shape=[None, 32, 32, 3], dtype='float32')], True, True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ftcore.export.kit import (
    FrozenModel,
    SelfCheck,
    check_single_input,
    checkpoint_export,
    compare_outputs,
    keras_export,
    keras_graph_def,
    run_graph_def,
    session_export,
)
from ftcore.graph import optimize, resolve_checkpoint
from ftcore.sidecar import Sidecar, write_export

v1 = tf.compat.v1

# FrozenModel and keras_graph_def stay importable from here: export_graph takes the one, the
# callers that build their own FrozenModel use the other.
__all__ = [
    "FrozenModel",
    "SelfCheck",
    "export_checkpoint",
    "export_graph",
    "export_keras",
    "export_session",
    "keras_graph_def",
]


def export_graph(
    model: FrozenModel,
    output_path: str | os.PathLike,
    *,
    optimize_graph: bool = True,
    preprocessing: str = "mobilenet",
    labels: Sequence[str] | None = None,
    source: str = "",
    check: SelfCheck | None = None,
) -> Sidecar:
    """Optimize (optionally), self-check against ``model.reference`` (on the probe batch and
    the photos, see :class:`SelfCheck`) and write ``.pb`` + sidecar atomically."""
    check_single_input(model, preprocessing)
    check = check or SelfCheck()
    graph_def, inputs, outputs = model.graph_def, model.inputs, model.outputs
    atol, rtol = check.atol, check.rtol
    probe = check.probe_for(inputs[0].shape)
    photos, photo_figures = check.photos_for(inputs[0].shape, preprocessing)
    x = probe if photos is None else np.concatenate([probe, photos])
    expected = model.reference(x)
    fetches = [t.name for t in outputs]
    feeds = {inputs[0].name: x}
    figures = {"probe_shape": list(probe.shape), **photo_figures, "atol": atol, "rtol": rtol}
    figures["frozen_max_abs_diff"] = compare_outputs(
        expected, run_graph_def(graph_def, feeds, fetches), "frozen graph", atol, rtol
    )
    if optimize_graph:
        graph_def = optimize(graph_def, outputs=fetches, inputs=[inputs[0].name])
        figures["optimized_max_abs_diff"] = compare_outputs(
            expected, run_graph_def(graph_def, feeds, fetches), "optimized graph", atol, rtol
        )
    sidecar = Sidecar(
        inputs=list(inputs),
        outputs=list(outputs),
        preprocessing=preprocessing,
        labels=list(labels) if labels is not None else None,
        source=source,
        optimized=optimize_graph,
        check=figures,
    )
    # deterministic: the same graph gives the same bytes (and sidecar hash) in every run
    return write_export(output_path, graph_def.SerializeToString(deterministic=True), sidecar)


def export_session(
    sess: v1.Session,
    output_path: str | os.PathLike,
    outputs: Sequence[str],
    input_name: str | None = None,
    **kwargs,
) -> Sidecar:
    """Freeze a live TF1 session's graph to ``output_path``, checked against the session itself.

    ``input_name`` defaults to the graph's only placeholder; see :func:`export_graph` for the rest.
    """
    kwargs.setdefault("source", "TF1 session")
    return export_graph(session_export(sess, outputs, input_name), output_path, **kwargs)


def export_checkpoint(
    ckpt: str | os.PathLike,
    output_path: str | os.PathLike,
    outputs: Sequence[str],
    input_name: str | None = None,
    trust: bool = False,
    **kwargs,
) -> Sidecar:
    """Freeze a TF1 checkpoint (dir or prefix, with ``.meta``) to ``output_path``; see :func:`export_graph`.

    ``input_name`` defaults to the graph's only placeholder; ``trust`` skips the meta graph's
    safety check (see :func:`ftcore.graph.restore.load_meta_graph`).
    """
    with checkpoint_export(ckpt, outputs, input_name, trust) as frozen:
        kwargs.setdefault("source", f"checkpoint {resolve_checkpoint(ckpt)}")
        return export_graph(frozen, output_path, **kwargs)


def export_keras(model, output_path: str | os.PathLike, **kwargs) -> Sidecar:
    """Freeze a Keras model to ``output_path``; see :func:`export_graph`."""
    kwargs.setdefault("source", f"keras model {model.name}")
    return export_graph(keras_export(model), output_path, **kwargs)
