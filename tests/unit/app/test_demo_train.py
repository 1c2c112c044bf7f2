"""The demo's ``ftcore train`` part: the shipped digits as a real folder of PNG files, trained
end to end, and the command line it prints gives the same run from a shell."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
from PIL import Image

from ftcore.app.cli import main
from ftcore.app.demo_train import TRAIN_BUDGETS, train_part, write_digits


def test_digits_are_written_as_png_files_in_class_subfolders(tmp_path):
    from ftcore_fixtures.digits import load_digits

    root = write_digits(tmp_path / "digits", 3)
    assert sorted(p.name for p in root.iterdir()) == ["5", "6", "7", "8", "9"]
    images, labels = load_digits()
    for folder in root.iterdir():
        files = sorted(folder.glob("*.png"))
        assert len(files) == 3
        for f in files:
            i = int(f.stem)
            assert labels[i] == int(folder.name)
            with Image.open(f) as img:
                assert (img.format, img.size, img.mode) == ("PNG", (32, 32), "L")
                got = np.asarray(img)[::4, ::4].astype(int)
            assert np.abs(got - images[i].astype(float) * 255 / 16).max() <= 0.5


@pytest.mark.slow
def test_the_part_trains_and_its_command_line_gives_the_same_run(tmp_path, capsys):
    from ftcore.app.demo_weights import fixture_weights

    weights = fixture_weights(lambda s: None)
    said: list[str] = []
    part = train_part(weights, tmp_path / "train", quick=True, seed=0, log=said.append)
    assert part["command"] in "\n".join(said)
    per_class = TRAIN_BUDGETS[True][0]
    counts = part["class_counts"]
    assert {
        c: counts["train"][c] + counts["validation"][c] for c in counts["train"]
    } == dict.fromkeys("56789", per_class)
    assert part["validation_accuracy"] > 0.5  # chance 0.2; measured 0.87 and 0.83 (seeds 0, 1)
    argv = shlex.split(part["command"])
    argv[argv.index("--output") + 1] = str(tmp_path / "shell")
    assert main(argv[1:]) == 0
    report = json.loads((tmp_path / "shell" / "report.json").read_text())
    assert round(report["validation"]["accuracy"], 3) == round(part["validation_accuracy"], 3)
    assert (tmp_path / "shell" / "split.json").read_bytes() == (
        tmp_path / "train" / "run" / "split.json"
    ).read_bytes()
