"""The ftcore CLI on real checkpoints, graphs and Keras files, and on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from ftcore.app.cli import main
from tests.helpers.exports import small_keras_model
from tests.helpers.graph_nets import PREDICTIONS


@pytest.fixture(scope="module")
def frozen_pb(slim_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("frozen") / "model.pb"
    labels = out.parent / "labels.txt"
    labels.write_text("ant\nbee\ncat\ndog\neel\n")
    assert (
        main(
            [
                "freeze",
                slim_ckpt,
                "--output",
                str(out),
                "--outputs",
                PREDICTIONS,
                "--labels",
                str(labels),
            ]
        )
        == 0
    )
    return out


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def row(out: str, *cells: str) -> bool:
    """Whether a table line holds ``cells`` in order, as whole columns."""
    pattern = r"\s{2,}".join(re.escape(c) for c in cells)
    return re.search(rf"^{pattern}(\s|$)", out, re.MULTILINE) is not None


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\nfrom ftcore.app.cli import main\n"
        "for argv in (['--help'], ['predict', '--help']):\n"
        "    try: main(argv)\n    except SystemExit: pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "inspect" in result.stdout and "--top K" in result.stdout


def test_freeze_writes_graph_and_sidecar(frozen_pb, capsys):
    sidecar = json.loads(frozen_pb.with_name("model.pb.json").read_text())
    assert sidecar["labels"] == ["ant", "bee", "cat", "dog", "eel"]
    assert sidecar["outputs"][0]["name"] == PREDICTIONS + ":0"


def test_predict_prints_top_k_labels_per_image(frozen_pb, photos, capsys):
    images = [photos["chelsea_cat"], photos["cameraman_gray"]]
    code, out, _ = cli(capsys, "predict", frozen_pb, *images, "--top", 2)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(images[0]) and lines[3] == str(images[1])
    ranked = [line.split() for line in lines[1:3]]
    assert [r[0] for r in ranked] == ["1.", "2."] and {r[1] for r in ranked} <= set(
        "ant bee cat dog eel".split()
    )
    assert float(ranked[0][2]) >= float(ranked[1][2])
    assert lines[6:] == [f"# frozen model, run by TensorFlow {tf.__version__}"]


def test_predict_with_a_checkpoint_needs_and_uses_the_output_name(
    slim_ckpt, frozen_pb, photos, capsys
):
    cat = photos["chelsea_cat"]
    code, _, err = cli(capsys, "predict", slim_ckpt, cat)
    assert code == 1 and "name the output tensor" in err
    code, restored_out, _ = cli(
        capsys, "predict", slim_ckpt, cat, "--output", PREDICTIONS, "--top", 5
    )
    code_f, frozen_out, _ = cli(capsys, "predict", frozen_pb, cat, "--top", 5)
    assert code == code_f == 0
    ranks = lambda out: [line.split()[1] for line in out.splitlines() if line[:2] == "  "]  # noqa: E731
    assert len(ranks(restored_out)) == 5 and sorted(ranks(restored_out)) == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]
    assert ranks(frozen_out) == [
        ("ant bee cat dog eel".split())[int(i)] for i in ranks(restored_out)
    ]


def test_inspect_checkpoint_meta_and_pb(slim_ckpt, frozen_pb, capsys):
    from pathlib import Path

    code, out, _ = cli(capsys, "inspect", slim_ckpt)
    assert code == 0 and row(out, "MobilenetV2/Conv/weights", "(3, 3, 3, 16)", "float32")
    meta = next(Path(slim_ckpt).glob("*.meta"))
    code, out, _ = cli(capsys, "inspect", meta, "--grep", "Predictions/Reshape_1")
    assert code == 0 and row(out, "MobilenetV2/Predictions/Reshape_1", "Reshape")
    code, out, _ = cli(capsys, "inspect", frozen_pb)
    assert (
        code == 0
        and row(out, "input", "Placeholder", "(None, 32, 32, 3)")
        and "# preprocessing: mobilenet" in out
    )


def test_inspect_keras_model_and_weights(tmp_path, capsys):
    model = small_keras_model()
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    code, out, _ = cli(capsys, "inspect", tmp_path / "m.keras")
    assert code == 0 and f"# {len(model.layers)} layers, {model.count_params()} params" in out
    code, out, _ = cli(capsys, "inspect", tmp_path / "m.weights.h5")
    assert code == 0 and "(3, 3, 3, 8)" in out and "float32" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["inspect", "{tmp}/missing"], "no such file or directory: {tmp}/missing"),
        (["predict", "{tmp}/junk.pb", "x.jpg"], "junk.pb is not a binary GraphDef protobuf"),
        (["inspect", "{tmp}/junk.pb"], "junk.pb is not a binary GraphDef protobuf"),
        (["predict", "{pb}", "{tmp}/nope.jpg"], "nope.jpg"),
        (
            [
                "freeze",
                "{slim_ckpt}",
                "--output",
                "{tmp}/o.pb",
                "--outputs",
                "MobilenetV2/Predictions/Reshap_1",
            ],
            "unknown output 'MobilenetV2/Predictions/Reshap_1'; closest: 'MobilenetV2/Predictions/Reshape_1'",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_nonzero(
    argv, message, tmp_path, slim_ckpt, frozen_pb, capsys
):
    (tmp_path / "junk.pb").write_bytes(b"definitely not a graph \xff\x00")
    fill = {"tmp": tmp_path, "slim_ckpt": slim_ckpt, "pb": frozen_pb}
    code, out, err = cli(capsys, *[a.format(**fill) for a in argv])
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"ftcore {argv[0]}: error: ")
    assert message.format(**fill) in err
    assert not (tmp_path / "o.pb").exists()


def test_error_exit_in_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ftcore.app.cli", "inspect", str(tmp_path / "nothing.pb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "error: no such file or directory" in result.stderr
