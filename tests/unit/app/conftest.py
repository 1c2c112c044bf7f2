"""Fixtures of the app tests: a frozen ``.pb`` with labels, made once by ``ftcore freeze``, and
the colour classifier exported to every model kind (:mod:`tests.unit.app.colour_models`)."""

from __future__ import annotations

import pytest

from ftcore.app.cli import main
from tests.helpers.graph_nets import PREDICTIONS


@pytest.fixture(scope="package")
def frozen_pb(slim_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("frozen") / "model.pb"
    labels = out.parent / "labels.txt"
    labels.write_text("ant\nbee\ncat\ndog\neel\n")
    argv = ["freeze", slim_ckpt, "--output", str(out), "--outputs", PREDICTIONS]
    assert main([*argv, "--labels", str(labels)]) == 0
    return out


@pytest.fixture(scope="package")
def colour_models(tmp_path_factory):
    """The colour classifier as .keras, .pb and .tflite (with labels) and a bare .tflite."""
    from tests.unit.app.colour_models import export_models

    return export_models(tmp_path_factory.mktemp("colour_models"))
