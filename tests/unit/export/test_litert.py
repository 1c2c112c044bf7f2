"""LiteRT export: .tflite models reproduce the restored model (probe batch and real photos), are
written atomically with a sidecar, and int8 models are refused below the agreement threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftcore.errors import FtcoreError, MismatchError
from ftcore.export import litert, pb
from ftcore.export.pb import FrozenModel, keras_graph_def
from ftcore.predict.images import load_images
from ftcore.predict.predictor import from_checkpoint, from_tflite
from ftcore.sidecar import read_sidecar, sidecar_path
from ftcore_fixtures.digits import source_task, target_task
from tests.helpers.agreement import assert_agree
from tests.helpers.exports import small_keras_model
from tests.helpers.graph_nets import PREDICTIONS, images


def test_keras_export_matches_on_probe_and_photos_with_a_sidecar(photos, tmp_path):
    model = small_keras_model()
    out = tmp_path / "small.tflite"
    sidecar = litert.export_keras(model, out, labels=list("abcd"))
    written = json.loads(sidecar_path(out).read_text())
    assert written["format"] == "tflite" and written["labels"] == list("abcd")
    assert written["inputs"][0]["shape"] == [None, 16, 16, 3]
    assert written["inputs"][0]["dtype"] == "float32"
    assert sorted(written["check"]["photos"]) == sorted(p.name for p in photos.values())
    assert read_sidecar(out) == sidecar and sidecar.check["tflite_max_abs_diff"] < 1e-4
    x = load_images(list(photos.values()), 16)
    with from_tflite(out) as got:
        assert got.kind == "tflite" and got.runtime == sidecar.check["interpreter"]
        assert got.labels == list("abcd") and got.input_shape == (16, 16, 3)
        batches = (x, x[:1], np.random.default_rng(2).uniform(-1, 1, (7, 16, 16, 3)))
        assert_agree(lambda b: model(b).numpy(), {"tflite": got}, batches, "small_export")


@pytest.mark.slow
def test_checkpoint_and_pb_exports_match_the_restored_graph(slim_ckpt, tmp_path):
    from_ckpt, from_pb = tmp_path / "ckpt.tflite", tmp_path / "pb.tflite"
    litert.export_checkpoint(slim_ckpt, from_ckpt, outputs=[PREDICTIONS])
    pb.export_checkpoint(slim_ckpt, tmp_path / "m.pb", outputs=[PREDICTIONS], labels=list("abcde"))
    sidecar = litert.export_pb(tmp_path / "m.pb", from_pb)  # names, labels from the .pb sidecar
    assert sidecar.source.startswith("frozen graph") and len(sidecar.check["photos"]) == 4
    assert sidecar.labels == list("abcde") and sidecar.outputs[0].name == PREDICTIONS
    x = images(6, seed=3)
    with (
        from_checkpoint(slim_ckpt, PREDICTIONS) as want,
        from_tflite(from_ckpt) as got_ckpt,
        from_tflite(from_pb) as got_pb,
    ):
        assert_agree(want, {"from checkpoint": got_ckpt, "from .pb": got_pb}, [x], "deep_export")
        assert got_ckpt.input_shape == got_pb.input_shape == (32, 32, 3)


def test_export_fails_with_the_numbers_and_writes_nothing(tmp_path):
    model = small_keras_model()
    graph_def, inputs, outputs = keras_graph_def(model)

    def off_by_a_bit(x):  # a "restored model" that disagrees with the converted one
        return [model(x, training=False).numpy() + 0.01]

    def off_on_photos_only(x):  # the probe batch has 2 images, the shipped photos 4
        return [model(x, training=False).numpy() + (0.01 if len(x) == 4 else 0.0)]

    for reference, what in ((off_by_a_bit, "probe batch"), (off_on_photos_only, "photos")):
        with pytest.raises(
            MismatchError, match=rf"tflite model \({what}\): output 0 .* up to 0\.01"
        ):
            litert.export_graph(
                FrozenModel(graph_def, inputs, outputs, reference), tmp_path / "bad.tflite"
            )
    assert list(tmp_path.iterdir()) == []


def test_int8_export_records_the_agreement_it_measured(tmp_path):
    model = small_keras_model()
    task = target_task(size=16, per_class=10)
    held_out = task.x_test[:120]
    out = tmp_path / "int8.tflite"
    sidecar = litert.export_keras(model, out, int8=litert.Int8(task.x_train, held_out))
    q = sidecar.check["int8"]
    assert sidecar.inputs[0].dtype == sidecar.outputs[0].dtype == "int8"
    assert (q["calibration_images"], q["held_out_images"]) == (50, 120)
    float_top1 = model(held_out).numpy().argmax(1)
    with from_tflite(out) as int8:
        assert int8(held_out).shape == (120, 4)
        assert q["top1_agreement"] == np.mean(int8(held_out).argmax(1) == float_top1)
    assert q["top1_agreement"] >= litert.MIN_AGREEMENT

    strict = litert.Int8(task.x_train, held_out, min_agreement=q["top1_agreement"] + 1e-6)
    with pytest.raises(litert.QuantizationError, match=r"agreement .* on 120 held-out images"):
        litert.export_keras(model, tmp_path / "strict.tflite", int8=strict)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.tflite", "int8.tflite.json"]


@pytest.mark.slow
def test_int8_of_a_trained_model_passes_and_a_miscalibrated_one_is_refused(pretrained, tmp_path):
    """The pretrained fixture network on its own task's held-out digits: calibrated on its
    training images it agrees with float on 0.994 of them; calibrated in the wrong input
    range (0..255 instead of [-1, 1]) on 0.41, and is refused."""
    src = source_task(size=32)
    out = pretrained.frozen_pb
    ok = litert.export_pb(
        out,
        tmp_path / "ok.tflite",
        [pretrained.slim_output_name],
        int8=litert.Int8(src.x_train[:100], src.x_test),
    )
    assert ok.check["int8"]["top1_agreement"] >= litert.MIN_AGREEMENT
    with from_tflite(tmp_path / "ok.tflite") as int8:
        accuracy = np.mean(int8(src.x_test).argmax(1) == src.y_test)
    assert accuracy >= pretrained.accuracy["slim"] - 0.05
    raw_range = (src.x_train[:100] + 1) * 127.5
    with pytest.raises(litert.QuantizationError, match="below the threshold 0.9"):
        litert.export_pb(
            out,
            tmp_path / "raw.tflite",
            [pretrained.slim_output_name],
            int8=litert.Int8(raw_range, src.x_test),
        )
    assert not (tmp_path / "raw.tflite").exists()


def test_int8_images_from_a_folder_hold_out_one_in_four(photos, tmp_path):
    for i in range(8):
        (tmp_path / f"{i}.png").write_bytes(photos["coffee_cup"].read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    q = litert.Int8.from_folder(tmp_path)
    assert [p.name for p in q.held_out] == ["3.png", "7.png"] and len(q.calibration) == 6
    (tmp_path / "empty").mkdir()
    with pytest.raises(FtcoreError, match="at least 4 images .* found 0"):
        litert.Int8.from_folder(tmp_path / "empty")
