"""``ftcore freeze`` of a real TF1 checkpoint to a frozen ``.pb`` with its sidecar."""

from __future__ import annotations

import json

from tests.helpers.graph_nets import PREDICTIONS


def test_freeze_writes_graph_and_sidecar(frozen_pb):
    sidecar = json.loads(frozen_pb.with_name("model.pb.json").read_text())
    assert sidecar["labels"] == ["ant", "bee", "cat", "dog", "eel"]
    assert sidecar["outputs"][0]["name"] == PREDICTIONS + ":0"
