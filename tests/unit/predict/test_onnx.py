"""The onnx predictor: ``.onnx`` exports in onnxruntime behind ``predict.load``, and its gates on
every entry point (:class:`OnnxModel`, :func:`from_onnx`, :func:`load`, ``ftcore predict``): a
sidecar naming another model (its sha256), operators outside the standard ONNX domains (or
unknown to them) and external data are refused unless trusted; junk and truncated files are
refused with one line naming the file."""

from __future__ import annotations

import math
import shutil

import numpy as np
import onnx
import pytest

from ftcore.errors import InvalidFileError, UnknownNameError
from ftcore.export import onnx as onnx_export
from ftcore.predict import OptionError, from_onnx, load, load_images
from ftcore.predict.onnx_runtime import STANDARD_DOMAINS, OnnxModel, UnsafeOnnxError
from ftcore.sidecar import sidecar_path
from tests.helpers.agreement import assert_agree
from tests.helpers.exports import small_keras_model
from tests.unit.app.cli_run import cli


@pytest.fixture(scope="module")
def keras_model():
    return small_keras_model()


@pytest.fixture(scope="module")
def exported(keras_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "small.onnx"
    onnx_export.export_keras(keras_model, out, labels=["ant", "bee", "cat", "dog"])
    return out


def _gelu_on_top(path, tmp_path, name="gelu.onnx", domain="com.microsoft", op="Gelu"):
    """The export with one more node on its output, of ``domain::op`` (no sidecar)."""
    model = onnx.load(path)
    graph = model.graph
    last = graph.output[0].name
    graph.node.append(onnx.helper.make_node(op, [last], ["extra:0"], domain=domain))
    graph.output[0].name = "extra:0"
    if domain and all(o.domain != domain for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(domain, 1))
    out = tmp_path / name
    out.write_bytes(model.SerializeToString())
    return out


def test_load_runs_an_onnx_export_in_onnxruntime(keras_model, exported, photos):
    import onnxruntime

    with load(exported) as p:
        assert p.kind == "onnx" and p.runtime == f"onnxruntime {onnxruntime.__version__}"
        assert p.labels == ["ant", "bee", "cat", "dog"] and p.input_shape == (16, 16, 3)
        x = np.random.default_rng(4).uniform(-1, 1, (9, 16, 16, 3)).astype(np.float32)
        assert_agree(lambda b: keras_model(b).numpy(), {"onnx": p}, [x, x[:1]], "onnx")
        [top] = p.top_k_images([photos["chelsea_cat"]], k=2)
        scores = keras_model(load_images([photos["chelsea_cat"]], 16)).numpy()[0]
        assert [t.label for t in top] == [p.labels[i] for i in np.argsort(-scores)[:2]]


def test_options_of_other_kinds_and_other_devices_are_refused(exported):
    with pytest.raises(OptionError, match=r"option 'output' does not apply to a \.onnx model"):
        load(exported, output="Identity:0")
    with pytest.raises(OptionError, match="'interpreter' does not apply"):
        load(exported, interpreter="litert")
    with pytest.raises(UnknownNameError, match="device for an .onnx model"):
        from_onnx(exported, device="gpu")
    with load(exported, num_threads=1) as one_thread:
        assert one_thread(np.zeros((2, 16, 16, 3), np.float32)).shape == (2, 4)


def test_a_pb_is_not_silently_run_by_another_runtime(slim_pb, tmp_path):
    """An .onnx export beside the .pb changes nothing: the .pb runs in TensorFlow."""
    pb = tmp_path / "model.pb"
    shutil.copy(slim_pb, pb)
    onnx_export.export_pb(slim_pb, tmp_path / "model.onnx", ["MobilenetV2/Predictions/Reshape_1"])
    with load(pb, output="MobilenetV2/Predictions/Reshape_1") as p:
        assert p.kind == "frozen" and p.runtime.startswith("TensorFlow ")


# --- the sidecar hash gate -------------------------------------------------------------------


def test_a_sidecar_describing_another_model_is_refused_everywhere(
    exported, tmp_path, capsys, photos
):
    model = onnx.load(exported)
    model.doc_string = "another model"  # still a valid ONNX model, other bytes
    swapped = tmp_path / "swapped.onnx"
    swapped.write_bytes(model.SerializeToString())
    shutil.copy(sidecar_path(exported), sidecar_path(swapped))
    for entry in (from_onnx, load):
        with pytest.raises(InvalidFileError, match="describes another model than .*swapped.onnx"):
            entry(swapped)
    code, _, err = cli(capsys, "predict", swapped, photos["chelsea_cat"])
    assert code == 1 and "describes another model" in err


# --- the operator-domain gate ----------------------------------------------------------------


@pytest.mark.parametrize(
    "domain, op, flagged",
    [
        ("com.microsoft", "Gelu", "com.microsoft::Gelu"),  # onnxruntime's contrib domain
        ("", "NotAnOperator", "ai.onnx::NotAnOperator"),  # not an operator of the standard
    ],
)
def test_operators_outside_the_standard_are_refused_unless_trusted(
    exported, tmp_path, capsys, photos, domain, op, flagged
):
    path = _gelu_on_top(exported, tmp_path, domain=domain, op=op)
    content = path.read_bytes()
    for entry in (lambda: OnnxModel(content, source=str(path)), lambda: from_onnx(path)):
        with pytest.raises(UnsafeOnnxError, match=rf"{flagged}.*refusing to load it"):
            entry()
    with pytest.raises(UnsafeOnnxError, match=flagged):
        load(path)
    code, _, err = cli(capsys, "predict", path, photos["chelsea_cat"])
    assert code == 1 and flagged in err and err.count("\n") == 1
    if domain:  # an operator onnxruntime has: trusted, it runs (and the gate was the refusal)
        with load(path, trust=True) as trusted, load(exported) as plain:
            x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
            y = plain(x)
            gelu = 0.5 * y * (1 + np.vectorize(math.erf)(y / np.sqrt(2)))
            np.testing.assert_allclose(trusted(x), gelu, rtol=1e-5, atol=1e-6)
        code, out, err = cli(capsys, "predict", path, photos["chelsea_cat"], "--trust")
        assert code == 0 and out.splitlines()[-1].startswith("# onnx model, run by onnxruntime")


def test_the_standard_domains_pass_the_gate(exported):
    model = onnx.load(exported)
    assert {o.domain for o in model.opset_import} <= set(STANDARD_DOMAINS)  # tf2onnx: "", ml
    assert OnnxModel(exported.read_bytes()).output_names == ["Identity:0"]


def test_external_data_is_refused_unless_trusted(exported, tmp_path):
    """A tensor stored outside the file makes onnxruntime read the file it names."""
    model = onnx.load(exported)
    tensor = model.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../../etc/passwd")
    tensor.ClearField("raw_data")
    path = tmp_path / "external.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(UnsafeOnnxError, match=f"external data: {tensor.name}"):
        from_onnx(path)


@pytest.mark.parametrize("what", ["junk", "truncated"])
def test_junk_and_truncated_files_are_refused_with_one_line(exported, photos, tmp_path, what):
    path = tmp_path / f"{what}.onnx"
    content = exported.read_bytes()
    path.write_bytes(
        photos["chelsea_cat"].read_bytes() if what == "junk" else content[: len(content) // 2]
    )
    with pytest.raises(InvalidFileError, match=rf"{what}.onnx is not an ONNX model .*truncated"):
        load(path)
