"""ftcore.sidecar without TensorFlow: the JSON round trip, what a bad sidecar is told,
and the model hash that refuses a sidecar beside another model (an interrupted export)."""

from __future__ import annotations

import hashlib
import json

import pytest

from ftcore.errors import FtcoreError, InvalidFileError
from ftcore.sidecar import Sidecar, TensorInfo, read_sidecar, sidecar_path, write_export

X = TensorInfo("input:0", [None, 32, 32, 3], "float32")
Y = TensorInfo("probs:0", [None, 5], "float32")


def _sidecar(**kw) -> Sidecar:
    return Sidecar([X], [Y], **{"labels": ["a", "b"], "check": {"atol": 1e-4}, **kw})


def test_json_round_trip_and_fields():
    sc = _sidecar(preprocessing="unit", source="ckpt", optimized=False, format="tflite")
    d = json.loads(sc.to_json())
    assert sc.to_json().startswith('{\n  "inputs": [\n    {\n      "name"')  # indented for people
    assert sc.to_json().endswith("}\n")
    assert d["inputs"] == [{"name": "input:0", "shape": [None, 32, 32, 3], "dtype": "float32"}]
    assert d["preprocessing_detail"] == "RGB, x/255 (range [0, 1])"
    assert (d["format"], d["optimized"], d["source"], d["model_sha256"]) == (
        "tflite",
        False,
        "ckpt",
        "",
    )
    assert Sidecar.from_json(sc.to_json()) == sc
    defaults = Sidecar([X], [Y])
    assert (defaults.preprocessing, defaults.labels, defaults.format) == ("mobilenet", None, "pb")
    assert defaults.optimized is True and defaults.check == {} and defaults.source == ""
    assert (
        json.loads(Sidecar([X], [Y], preprocessing="other").to_json())["preprocessing_detail"] == ""
    )


def test_sidecar_path():
    assert sidecar_path("runs/model.pb").as_posix() == "runs/model.pb.json"
    assert sidecar_path("m.tflite").name == "m.tflite.json"


def _good() -> dict:
    return json.loads(_sidecar().to_json())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "[1, 2]", "is not an ftcore export sidecar"),
        (lambda d: "{", "is not an ftcore export sidecar"),
        (lambda d: d.pop("inputs") and d, "'inputs'"),
        (lambda d: d.update(inputs=[]) or d, "no input or no output"),
        (lambda d: d.update(outputs=[]) or d, "no input or no output"),
        (lambda d: d.update(surprise=1) or d, "surprise"),
        (lambda d: d.update(preprocessing=3) or d, "must be strings"),
        (lambda d: d.update(format=None) or d, "must be strings"),
        (lambda d: d.update(model_sha256=7) or d, "must be strings"),
        (lambda d: d.update(labels="ab") or d, "'labels' must be a list of strings"),
        (lambda d: d.update(labels=["a", 1]) or d, "'labels' must be a list of strings"),
        (lambda d: d.update(check=[]) or d, "'check' must be an object"),
        (lambda d: d["inputs"][0].update(name="") or d, "bad tensor entry"),
        (lambda d: d["inputs"][0].update(name=1) or d, "bad tensor entry"),
        (lambda d: d["inputs"][0].update(dtype=None) or d, "bad tensor entry"),
        (lambda d: d["outputs"][0].update(shape="5") or d, "bad tensor entry"),
        (lambda d: d["outputs"][0].update(shape=[None, 2.5]) or d, "bad tensor entry"),
        (lambda d: d["outputs"][0].update(shape=[True]) or d, "bad tensor entry"),
        (lambda d: d["outputs"][0].update(extra=1) or d, "extra"),
    ],
)
def test_a_bad_sidecar_is_refused_with_its_name(change, message):
    changed = change(_good())
    text = changed if isinstance(changed, str) else json.dumps(changed)
    with pytest.raises(InvalidFileError, match=message) as e:
        Sidecar.from_json(text, source="runs/m.pb.json")
    assert str(e.value).startswith("runs/m.pb.json is not an ftcore export sidecar: ")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(inputs=[]), "it names no input or no output tensor"),
        (
            lambda d: d.update(format=1),
            "'preprocessing', 'format' and 'model_sha256' must be strings",
        ),
        (lambda d: d.update(labels=[1]), "'labels' must be a list of strings or null"),
        (lambda d: d.update(check=1), "'check' must be an object"),
    ],
)
def test_the_whole_message_of_a_bad_field(change, problem):
    d = _good()
    change(d)
    with pytest.raises(InvalidFileError) as e:
        Sidecar.from_json(json.dumps(d))  # default source name: "sidecar"
    assert str(e.value) == f"sidecar is not an ftcore export sidecar: {problem}"


def test_valid_variants_are_accepted():
    d = _good()
    d.update(labels=None)
    d["inputs"][0].update(shape=None)
    d["outputs"][0].update(shape=[])
    sc = Sidecar.from_json(json.dumps(d))
    assert sc.labels is None and sc.inputs[0].shape is None and sc.outputs[0].shape == []


def test_write_export_writes_model_then_sidecar_with_its_hash(tmp_path):
    out = tmp_path / "sub" / "m.pb"
    sc = write_export(out, b"graph-bytes", _sidecar())
    assert out.read_bytes() == b"graph-bytes"
    assert sc.model_sha256 == hashlib.sha256(b"graph-bytes").hexdigest()
    assert read_sidecar(out) == sc
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.pb", "m.pb.json"]


def test_read_sidecar_refuses_a_sidecar_of_another_model(tmp_path):
    out = tmp_path / "m.pb"
    write_export(out, b"old graph", _sidecar())
    out.write_bytes(b"new graph")  # as if an export died between the two files
    with pytest.raises(InvalidFileError, match=r"m\.pb\.json describes another model than") as e:
        read_sidecar(out)
    old, new = (hashlib.sha256(b).hexdigest()[:12] for b in (b"old graph", b"new graph"))
    assert f"sha256 {new}..." in str(e.value) and f"says {old}..." in str(e.value)
    assert "Export again" in str(e.value)


def test_read_sidecar_without_hash_or_model(tmp_path):
    out = tmp_path / "m.pb"
    assert read_sidecar(out) is None  # nothing there
    sidecar_path(out).write_text(_sidecar().to_json())  # an older sidecar: no hash to check
    out.write_bytes(b"anything")
    assert read_sidecar(out) == _sidecar()
    sidecar_path(out).write_text(_sidecar(model_sha256="0" * 64).to_json())
    out.unlink()  # the model is missing: its loader reports that, not the sidecar
    assert read_sidecar(out).model_sha256 == "0" * 64


def test_read_sidecar_errors_are_ftcore_errors_naming_the_file(tmp_path):
    out = tmp_path / "m.pb"
    sidecar_path(out).write_text("not json")
    with pytest.raises(FtcoreError, match=rf"^{sidecar_path(out)} is not an ftcore export sidecar"):
        read_sidecar(out)
    sidecar_path(out).write_bytes(b"\xff{}")
    with pytest.raises(
        FtcoreError, match=r"is not UTF-8 text \(an ftcore export sidecar \(JSON\)\)"
    ):
        read_sidecar(out)
