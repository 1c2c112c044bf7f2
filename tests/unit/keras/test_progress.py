"""Progress: a line per epoch of every stage (cached ones too) and for feature extraction,
one line per update when the output is not a terminal."""

from __future__ import annotations

import io

import keras

from ftcore.keras import fine_tune, head_stage, unfreeze_stage
from ftcore.keras.progress import Progress
from tests.helpers.keras_nets import data_for, tiny_net


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_every_epoch_of_every_stage_and_the_extraction_report_on_stderr(capsys):
    model = tiny_net()
    x, y = data_for(model, 16)
    keras.utils.set_random_seed(0)
    stages = [head_stage(2), unfreeze_stage("b0_dense", 2)]
    fine_tune(model, x, y, stages, batch_size=4, validation_data=(x, y))
    out, err = capsys.readouterr()
    lines = err.splitlines()
    epochs = [line for line in lines if line.startswith("stage ")]
    assert [line.split(": accuracy")[0] for line in epochs] == [
        "stage 1/2 'head' (cached features): 1/2 epochs",
        "stage 1/2 'head' (cached features): 2/2 epochs",
        "stage 2/2 'unfreeze' (through the base): 1/2 epochs",
        "stage 2/2 'unfreeze' (through the base): 2/2 epochs",
    ]
    assert all("val_loss" in line for line in epochs)
    assert "features (train): 4/4 batches" in lines
    assert "features (validation): 4/4 batches" in lines
    assert "\r" not in err and "stage 1/2" not in out


def test_progress_off_is_silent(capsys):
    model = tiny_net()
    x, y = data_for(model, 8)
    fine_tune(model, x, y, [head_stage(1)], progress=False)
    assert capsys.readouterr().err.count("stage 1/1") == 0


def test_one_line_per_update_off_a_terminal_redrawn_on_one():
    plain, tty = io.StringIO(), Terminal()
    for stream in (plain, tty):
        bar = Progress("features", total=20, stream=stream, every=5)
        for n in range(1, 21):
            bar.update(n)
    assert plain.getvalue().splitlines() == [f"features: {n}/20 batches" for n in (5, 10, 15, 20)]
    assert tty.getvalue().count("\r") == 20 and tty.getvalue().count("\n") == 1
