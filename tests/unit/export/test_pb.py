"""Export: frozen (and optimized) graphs reproduce the restored model, checked and written atomically."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from ftcore.errors import InvalidFileError, MismatchError, UnknownNameError
from ftcore.export.pb import (
    FrozenModel,
    export_checkpoint,
    export_graph,
    export_keras,
    keras_graph_def,
)
from ftcore.graph.optimize import count_ops
from ftcore.graph.safety import load_graph_def
from ftcore.predict.predictor import from_checkpoint, from_keras, from_pb
from ftcore.sidecar import Sidecar, TensorInfo, read_sidecar, sidecar_path
from ftcore_fixtures import photo_paths
from tests.helpers.agreement import assert_agree
from tests.helpers.exports import small_keras_model
from tests.helpers.graph_nets import PREDICTIONS, images


@pytest.mark.slow
def test_checkpoint_export_matches_the_restored_graph(slim_ckpt, tmp_path):
    out = tmp_path / "model.pb"
    sidecar = export_checkpoint(slim_ckpt, out, outputs=[PREDICTIONS], labels=list("abcde"))
    graph_def = load_graph_def(out)
    ops = count_ops(graph_def)
    assert not {"FusedBatchNormV3", "VarHandleOp", "ReadVariableOp"} & set(ops), ops
    assert ops["BiasAdd"] >= 52
    written = json.loads(sidecar_path(out).read_text())
    assert written["inputs"] == [
        {"name": "input:0", "shape": [None, 32, 32, 3], "dtype": "float32"}
    ]
    assert written["outputs"][0]["name"] == PREDICTIONS + ":0"
    assert written["preprocessing_detail"].startswith("RGB, x/127.5-1")
    assert read_sidecar(out) == sidecar and sidecar.check["optimized_max_abs_diff"] < 1e-4
    x = images(6, seed=3)
    with from_checkpoint(slim_ckpt, PREDICTIONS) as want, from_pb(out) as got:
        assert_agree(want, {"frozen": got}, [x], "deep_export")
        assert got.labels == list("abcde") and got.input_shape == (32, 32, 3)


def test_keras_export_folds_decomposed_batch_norm_and_matches(tmp_path):
    model = small_keras_model()
    out = tmp_path / "keras.pb"
    export_keras(model, out)
    ops = count_ops(load_graph_def(out))
    assert not {"Rsqrt", "Mul", "Sub"} & set(ops), ops
    x = np.random.default_rng(1).uniform(-1, 1, (5, 16, 16, 3)).astype(np.float32)
    with from_pb(out) as got:
        assert_agree(from_keras(model), {"frozen": got}, [x], "small_export")


def test_export_fails_with_the_numbers_and_writes_nothing(tmp_path):
    model = small_keras_model()
    out = tmp_path / "bad.pb"
    graph_def, inputs, outputs = keras_graph_def(model)

    def off_by_a_bit(x):  # a "restored model" that disagrees with the graph
        return [model(x, training=False).numpy() + 0.01]

    with pytest.raises(MismatchError, match=r"frozen graph: output 0 differs .* by up to 0\.01"):
        export_graph(FrozenModel(graph_def, inputs, outputs, off_by_a_bit), out)
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_name_lists_close_matches(slim_ckpt, tmp_path):
    with pytest.raises(
        UnknownNameError, match=r"unknown output 'MobilenetV2/Predictions/Reshape_2'.*Reshape_1"
    ):
        export_checkpoint(
            slim_ckpt, tmp_path / "x.pb", outputs=["MobilenetV2/Predictions/Reshape_2"]
        )
    assert not (tmp_path / "x.pb").exists()


def test_sidecar_round_trips_and_rejects_junk(tmp_path):
    junk = tmp_path / "m.pb.json"
    junk.write_text('{"inputs": 3}')
    with pytest.raises(Exception, match="not an ftcore export sidecar"):
        read_sidecar(tmp_path / "m.pb")
    assert read_sidecar(tmp_path / "other.pb") is None
    x, y = (
        TensorInfo("input:0", [None, 8, 8, 3], "float32"),
        TensorInfo("y:0", [None, 1], "float32"),
    )
    assert Sidecar.from_json(Sidecar([x], [y], labels=["x"]).to_json()) == Sidecar(
        [x], [y], labels=["x"]
    )
    with pytest.raises(InvalidFileError, match="names no input or no output"):
        Sidecar.from_json(Sidecar([x], [], labels=["x"]).to_json())


def test_export_checks_the_shipped_photos_too(tmp_path):
    model = small_keras_model()
    graph_def, inputs, outputs = keras_graph_def(model)

    def wrong_on_photos(x):  # agrees on the 2-image probe batch, not on the photos after it
        y = model(x, training=False).numpy()
        y[2:] += 0.01
        return [y]

    with pytest.raises(MismatchError, match=r"by up to 0\.01 .* 16 of 24 values"):
        export_graph(FrozenModel(graph_def, inputs, outputs, wrong_on_photos), tmp_path / "a.pb")
    assert list(tmp_path.iterdir()) == []
    sidecar = export_keras(model, tmp_path / "b.pb")
    assert sorted(sidecar.check["photos"]) == sorted(p.name for p in photo_paths().values())
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    skipped = export_keras(dense, tmp_path / "c.pb").check
    assert skipped["photos"] == [] and "is not [N, H, W, 3]" in skipped["photos_skipped"]
