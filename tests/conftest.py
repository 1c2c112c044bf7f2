"""Session-scoped test models shared by the unit tests: each is built once per test session.

- ``slim_ckpt``: a small slim MobileNetV2 (depth 0.35, 32x32, 5 classes) Saver checkpoint
  directory with distinctive BN statistics (:func:`tests.helpers.graph_nets.slim_checkpoint`);
- ``slim_pb``: the same network frozen to a ``.pb`` (output ``MobilenetV2/Predictions/Reshape_1``).

Every session also checks, at its end, that ``os.environ``, the cwd and the umask are as they
were at its start (``environment_unchanged``, :mod:`tests.helpers.isolation`).
"""

from __future__ import annotations

import pytest

from tests.helpers.isolation import environment_unchanged  # noqa: F401  (autouse, session)


@pytest.fixture(scope="session")
def slim_root(tmp_path_factory):
    return tmp_path_factory.mktemp("slim_models")


@pytest.fixture(scope="session")
def slim_ckpt(slim_root) -> str:
    from tests.helpers.graph_nets import slim_checkpoint

    return slim_checkpoint(slim_root)


@pytest.fixture(scope="session")
def slim_pb(slim_root, slim_ckpt) -> str:
    from tests.helpers.graph_nets import frozen_slim

    return frozen_slim(slim_root)
