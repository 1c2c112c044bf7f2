"""The export gates bite, on every format and entry point: the self-check tolerance, the int8
agreement threshold and the sidecar's model hash refuse the input just outside and pass the
input just inside; NaN and infinity are refused wherever a number is compared.

Real exports of a small Keras model (16x16x3, real BN statistics) to ``.pb`` and ``.tflite``.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from ftcore.app.cli import main
from ftcore.errors import FtcoreError, InvalidFileError, MismatchError
from ftcore.export import export_keras, read_sidecar
from ftcore.export import litert as tflite
from ftcore.export.pb import SelfCheck
from ftcore.predict import load
from tests.helpers.exports import small_keras_model

NOT_A_NUMBER = [float("nan"), float("inf"), -float("inf"), -1e-6]
FORMATS = {"pb": export_keras, "tflite": tflite.export_keras}
DIFF_KEY = {"pb": "optimized_max_abs_diff", "tflite": "tflite_max_abs_diff"}


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def model():
    return small_keras_model()


# --- the self-check tolerance, on each format and each comparison ---------------------------


@pytest.fixture(scope="module")
def linear():
    """conv -> BN (no shift, mean 0) -> pool -> dense, no biases: f(a*x) = a*f(x), so the
    exports' float error grows with the input; a large probe dominates the check, a tiny one
    leaves it to the photos."""
    import keras

    keras.utils.set_random_seed(2)
    layers = keras.layers
    x = inp = keras.Input((16, 16, 3))
    x = layers.BatchNormalization(center=False)(layers.Conv2D(8, 3, use_bias=False)(x))
    x = layers.Dense(4, use_bias=False)(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, x, name="linear")
    bn = model.layers[2]
    gamma, mean, var = bn.get_weights()
    rng = np.random.default_rng(2)
    bn.set_weights([rng.uniform(0.5, 2, gamma.shape), 0 * mean, rng.uniform(0.2, 3, var.shape)])
    return model


def _uniform(scale: float) -> np.ndarray:
    return np.random.default_rng(0).uniform(-scale, scale, (4, 16, 16, 3)).astype(np.float32)


#: (format, the comparison that must hold the largest difference): how to make it so.
CASES = {
    ("pb", "frozen"): dict(probe=_uniform(60), optimize_graph=False),
    ("pb", "optimized"): dict(probe=_uniform(1), optimize_graph=True),  # BN folding's error
    ("tflite", "probe"): dict(probe=_uniform(60)),
    ("tflite", "photos"): dict(probe=_uniform(1e-4)),
}


@pytest.mark.parametrize("fmt, comparison", sorted(CASES))
def test_the_self_check_tolerance_is_applied_on_every_comparison_of_every_format(
    linear, model, fmt, comparison, tmp_path
):
    """Exactly the measured difference passes; half of it is refused and nothing is written.
    The other comparisons of the export stay within that half, so each one must apply it."""
    options = dict(CASES[fmt, comparison])
    probe = options.pop("probe")
    net = model if comparison == "optimized" else linear
    export = FORMATS[fmt]

    def run(path, **check):
        return export(net, tmp_path / path, check=SelfCheck(probe, **check), **options).check

    figures = run(f"m.{fmt}")
    key = "optimized_max_abs_diff" if comparison == "optimized" else DIFF_KEY[fmt]
    key = "frozen_max_abs_diff" if comparison == "frozen" else key
    worst = figures[key]
    assert worst > 0, "the check must see the export's float error for this test to bite"
    if comparison == "optimized":
        assert figures["frozen_max_abs_diff"] <= worst / 2
    if comparison == "probe":  # the photos alone (with a negligible probe) stay within half
        alone = export(net, tmp_path / "p.tflite", check=SelfCheck(_uniform(1e-4))).check
        assert alone["tflite_max_abs_diff"] <= worst / 2
    if comparison == "photos":
        assert np.abs(np.asarray(net(probe))).max() * 1e-3 < worst / 2  # float error: < 1e-3 rel.
    assert run(f"in.{fmt}", atol=worst, rtol=0)[key] == worst
    with pytest.raises(MismatchError, match="differs from the restored model"):
        run(f"out.{fmt}", atol=worst / 2, rtol=0)
    outside = tmp_path / f"out.{fmt}"
    assert not outside.exists() and not outside.with_name(outside.name + ".json").exists()


@pytest.mark.parametrize("value", NOT_A_NUMBER)
@pytest.mark.parametrize("name", ["atol", "rtol"])
def test_a_tolerance_that_is_not_a_finite_number_is_refused(name, value):
    with pytest.raises(FtcoreError, match=f"SelfCheck {name} must be a finite number"):
        SelfCheck(**{name: value})


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_model_whose_output_is_not_finite_is_refused_on_every_format(fmt, tmp_path):
    """A restored model giving NaN cannot vouch for its export (NaN - NaN compares as no error)."""
    import keras

    model = small_keras_model()
    dense = model.layers[-1]
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, np.full_like(bias, np.nan)])
    with pytest.raises(MismatchError, match="differs from the restored model"):
        FORMATS[fmt](model, tmp_path / f"nan.{fmt}", check=SelfCheck())
    assert not (tmp_path / f"nan.{fmt}").exists()
    keras.backend.clear_session()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_reference_that_is_not_finite_cannot_vouch_for_an_export(model, fmt, tmp_path):
    """A restored model answering NaN where the export answers numbers: NaN - x compares as no
    error, so without its own check the export would pass against it."""
    from ftcore.export import pb

    graph_def, inputs, outputs = pb.keras_graph_def(model)

    def nan_in_one_value(x):
        out = model(x, training=False).numpy()
        out[0, 0] = np.nan
        return [out]

    frozen = pb.FrozenModel(graph_def, inputs, outputs, nan_in_one_value)
    export = {"pb": pb.export_graph, "tflite": tflite.export_graph}[fmt]
    with pytest.raises(MismatchError, match="differs from the restored model"):
        export(frozen, tmp_path / f"m.{fmt}")
    assert list(tmp_path.iterdir()) == []


# --- the int8 agreement threshold, on every entry point -------------------------------------


#: 16 one-colour images: ``Int8.from_folder`` holds out every fourth (03, 07, 11, 15).
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 129, 0)] * 4
COLOURS[7], COLOURS[15] = (255, 0, 0), (0, 0, 255)  # held out: tie, red, tie, blue


@pytest.fixture(scope="module")
def hesitant(tmp_path_factory):
    """Class = the strongest colour channel (global average pool, then 0.1 x identity and
    softmax). A near tie (128, 129, 0) is class 1 in float but a tie, hence class 0, after int8
    rounds the softmax to 1/256 steps: the held-out images (tie, red, tie, blue) agree half the
    time. Saved as ``.keras`` and ``.pb``, with the folder of images."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.layers[-1].set_weights([np.eye(3, dtype=np.float32) * 0.1, np.zeros(3, np.float32)])
    root = tmp_path_factory.mktemp("hesitant")
    model.save(root / "m.keras")
    export_keras(model, root / "m.pb")
    images = root / "images"
    images.mkdir()
    for i, colour in enumerate(COLOURS):
        Image.fromarray(np.full((16, 16, 3), colour, np.uint8)).save(images / f"{i:02d}.png")
    agreement = tflite.export_keras(
        model, root / "measure.tflite", int8=tflite.Int8.from_folder(images, 0.0)
    ).check["int8"]["top1_agreement"]
    assert agreement == 0.5, "the near ties must flip in int8 for the gate to be seen"
    return model, root, agreement


def _int8_entry_points(model, root):
    return {
        "export_keras": lambda out, int8: tflite.export_keras(model, out, int8=int8),
        "export_pb": lambda out, int8: tflite.export_pb(root / "m.pb", out, int8=int8),
    }


@pytest.mark.parametrize("entry", ["export_keras", "export_pb"])
def test_the_int8_threshold_bites_on_every_api_entry_point(hesitant, entry, tmp_path):
    model, root, agreement = hesitant
    export = _int8_entry_points(model, root)[entry]
    inside = tflite.Int8.from_folder(root / "images", agreement)
    assert export(tmp_path / "in.tflite", inside).check["int8"]["top1_agreement"] == agreement
    outside = tflite.Int8.from_folder(root / "images", min(1.0, agreement + 1 / 8))
    with pytest.raises(tflite.QuantizationError, match="below the threshold"):
        export(tmp_path / "out.tflite", outside)
    assert not (tmp_path / "out.tflite").exists()


@pytest.mark.parametrize("source", ["m.keras", "m.pb"])
def test_the_int8_threshold_bites_on_the_cli(hesitant, source, tmp_path, capsys):
    """``--min-agreement`` reaches the gate: the measured agreement passes (the default 0.9
    would refuse it), one step above is refused, and nothing is written."""
    _, root, agreement = hesitant
    args = ["freeze", root / source, "--format", "tflite", "--int8", root / "images"]
    code, out, err = cli(
        capsys, *args, "--output", tmp_path / "in.tflite", "--min-agreement", agreement
    )
    assert code == 0, err
    assert f"top-1 agreement with the float model {agreement:.3f}" in out
    outside = tmp_path / "out.tflite"
    code, out, err = cli(
        capsys, *args, "--output", outside, "--min-agreement", min(1.0, agreement + 1 / 8)
    )
    assert code == 1 and "below the threshold" in err and not outside.exists()
    code, out, err = cli(capsys, *args, "--output", outside)  # the default threshold, 0.9
    assert code == 1 and "below the threshold 0.9" in err and not outside.exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_an_int8_threshold_that_is_not_a_finite_number_is_refused_on_every_entry_point(
    hesitant, value, tmp_path, capsys
):
    _, root, _ = hesitant
    with pytest.raises(FtcoreError, match="min_agreement must be a finite number"):
        tflite.Int8(np.zeros((1, 16, 16, 3)), np.zeros((1, 16, 16, 3)), value)
    with pytest.raises(FtcoreError, match="min_agreement must be a finite number"):
        tflite.Int8.from_folder(root / "images", value)
    out = tmp_path / "m.tflite"
    code, _, err = cli(
        capsys, "freeze", root / "m.keras", "--format", "tflite", "--int8", root / "images",
        "--output", out, f"--min-agreement={value}",
    )  # fmt: skip
    assert code == 1 and "min_agreement must be a finite number" in err and not out.exists()


# --- the sidecar's model hash, on every format and entry point ------------------------------


@pytest.fixture(scope="module")
def swapped(tmp_path_factory, model):
    """Per format: an export whose model file was replaced by another valid model's bytes."""
    root = tmp_path_factory.mktemp("swapped")
    other = small_keras_model(seed=3)
    paths = {}
    for fmt, export in FORMATS.items():
        good, bad = root / f"good.{fmt}", root / f"bad.{fmt}"
        export(model, good, check=SelfCheck())
        export(model, bad, check=SelfCheck())
        export(other, root / f"other.{fmt}", check=SelfCheck())
        shutil.copyfile(root / f"other.{fmt}", bad)
        paths[fmt] = good, bad
    return paths


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_sidecar_describing_another_model_is_refused_on_every_entry_point(
    swapped, fmt, photos, capsys
):
    good, bad = swapped[fmt]
    assert read_sidecar(good).format == fmt
    with load(good) as predictor:
        assert predictor.kind in ("frozen", "tflite")
    photo = str(photos["chelsea_cat"])
    assert cli(capsys, "predict", good, photo)[0] == 0
    with pytest.raises(InvalidFileError, match="describes another model"):
        read_sidecar(bad)
    with pytest.raises(InvalidFileError, match="describes another model"):
        load(bad)
    code, _, err = cli(capsys, "predict", bad, photo)
    assert code == 1 and "describes another model" in err
    if fmt == "pb":  # a .pb is also the source of a .tflite conversion
        converted = bad.with_name("converted.tflite")
        with pytest.raises(InvalidFileError, match="describes another model"):
            tflite.export_pb(bad, converted)
        code, _, err = cli(capsys, "freeze", bad, "--format", "tflite", "--output", converted)
        assert code == 1 and "describes another model" in err and not converted.exists()
