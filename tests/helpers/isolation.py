"""The environment a test session must leave as it found it: ``os.environ``, the working
directory and the umask.

``environment_unchanged`` is a session-scoped autouse fixture (imported by tests/conftest.py):
it snapshots the three at the start of the session and, at teardown, fails the session with
each difference named, e.g. an example that deletes ``FTCORE_CACHE_DIR`` would send every
later test's fixtures and weights to the user's home cache instead of the one tox set.
"""

from __future__ import annotations

import os

import pytest

PYTEST_OWN = {"PYTEST_CURRENT_TEST"}  # pytest sets it for each test phase itself

#: Set by a library when it is first imported (tensorflow/__init__.py, tf.keras saving,
#: threadpoolctl and sklearn), not by a test: a session whose tests import TensorFlow only
#: midway (``tests/unit/pretrained`` alone, or the few tests mutmut runs for one mutant) sees
#: them appear. Only their appearance is ignored; a deletion or a change is still reported.
SET_ON_IMPORT = {
    "ENABLE_RUNTIME_UPTIME_TELEMETRY",
    "HDF5_PLUGIN_PATH",
    "KMP_DUPLICATE_LIB_OK",
    "KMP_INIT_AT_FORK",
    "TF2_BEHAVIOR",
    "TPU_ML_PLATFORM",
    "TPU_ML_PLATFORM_VERSION",
}


def snapshot() -> dict:
    """What a test may not leave changed: a copy of ``os.environ``, the cwd and the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    environ = {k: v for k, v in os.environ.items() if k not in PYTEST_OWN}
    return {"environ": environ, "cwd": os.getcwd(), "umask": umask}


def differences(before: dict, after: dict) -> list[str]:
    """One line per change between two :func:`snapshot` results; empty when none."""
    lines = []
    env_before, env_after = before["environ"], after["environ"]
    for key in sorted(env_before.keys() - env_after.keys()):
        lines.append(f"os.environ[{key!r}] was deleted (was {env_before[key]!r})")
    for key in sorted(env_after.keys() - env_before.keys() - SET_ON_IMPORT):
        lines.append(f"os.environ[{key!r}] was added ({env_after[key]!r})")
    for key in sorted(
        k for k in env_before.keys() & env_after.keys() if env_before[k] != env_after[k]
    ):
        lines.append(f"os.environ[{key!r}] changed from {env_before[key]!r} to {env_after[key]!r}")
    if before["cwd"] != after["cwd"]:
        lines.append(f"the working directory changed from {before['cwd']} to {after['cwd']}")
    if before["umask"] != after["umask"]:
        lines.append(f"the umask changed from {before['umask']:03o} to {after['umask']:03o}")
    return lines


@pytest.fixture(scope="session", autouse=True)
def environment_unchanged():
    before = snapshot()
    yield
    changed = differences(before, snapshot())
    if changed:
        pytest.fail(
            "the test session left the environment changed (a test or example must restore "
            "what it changes):\n  " + "\n  ".join(changed),
            pytrace=False,
        )
