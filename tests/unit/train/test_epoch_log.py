"""history.jsonl: the last record of an epoch wins, a line cut short by a kill is dropped, and
the first stage a resume trains is the one fine_tune resumes."""

from __future__ import annotations

import json

import pytest

from ftcore.keras import head_stage, unfreeze_stage
from ftcore.train.epoch_log import first_stage_to_run, read_history


def _line(stage, name, epoch, loss):
    return json.dumps({"stage": stage, "name": name, "epoch": epoch, "metrics": {"loss": loss}})


def test_history_in_stage_and_epoch_order_last_record_wins(tmp_path):
    path = tmp_path / "history.jsonl"
    lines = [_line(0, "head", 1, 0.8), _line(0, "head", 0, 1.0), _line(1, "unfreeze", 0, 0.5)]
    lines += [_line(0, "head", 1, 0.7)]  # the epoch again after a resume
    path.write_text("\n".join(lines) + "\n")
    assert read_history(path) == [("head", {"loss": [1.0, 0.7]}), ("unfreeze", {"loss": [0.5]})]


def test_a_torn_last_line_is_dropped_a_torn_middle_one_raises(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(_line(0, "head", 0, 1.0) + "\n" + _line(0, "head", 1, 0.9)[:20])
    assert read_history(path) == [("head", {"loss": [1.0]})]
    path.write_text(_line(0, "head", 0, 1.0)[:20] + "\n" + _line(0, "head", 1, 0.9) + "\n")
    with pytest.raises(json.JSONDecodeError):
        read_history(path)
    assert read_history(tmp_path / "none.jsonl") == []


@pytest.mark.parametrize(
    "state, first",
    [
        (None, 0),
        ({"stage": 0, "epoch": 1}, 0),
        ({"stage": 0, "epoch": 3}, 1),
        ({"stage": 1, "epoch": 0}, 1),
    ],
)
def test_first_stage_to_run(state, first):
    stages = [head_stage(3), unfreeze_stage("c", 2)]
    assert first_stage_to_run(stages, state) == first
