"""``ftcore predict`` with a frozen ``.pb`` and with a checkpoint, on real photos."""

from __future__ import annotations

import tensorflow as tf

from tests.helpers.graph_nets import PREDICTIONS
from tests.unit.app.cli_run import cli


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
