"""Where ``ftcore demo`` takes its weights from: genuine ones from the store, else the fixtures
with a message that says so; a tampered download is an error, never a silent fallback."""

from __future__ import annotations

import pytest

from ftcore.app.demo_weights import GENUINE_ENTRIES, resolve_weights
from ftcore.pretrained import HashMismatchError, PackageIndex, Store
from tests.unit.pretrained.test_store import build_wheel, tiny_entry

UNREACHABLE = PackageIndex(["--index-url", "http://127.0.0.1:9/simple"], retries=0, timeout_s=2)


def test_offline_uses_the_fixtures_and_says_so(pretrained, tmp_path):
    said: list[str] = []
    weights = resolve_weights(True, said.append, Store(tmp_path / "cache", UNREACHABLE))
    assert weights.origin == "fixtures" and weights.keras_weights == pretrained.keras_weights
    assert "--offline" in said[0] and "not ImageNet" in said[0]
    assert not (tmp_path / "cache").exists()  # offline: the store is never asked


def test_unreachable_registry_falls_back_with_what_to_fetch(pretrained, tmp_path):
    said: list[str] = []
    weights = resolve_weights(False, said.append, Store(tmp_path / "cache", UNREACHABLE))
    assert weights.origin == "fixtures" and "self-built fixtures" in weights.description
    text = "\n".join(said)
    assert "could not fetch the genuine weights" in text and "cannot reach" in text
    assert "falling back to the self-built fixtures" in text
    assert f"ftcore fetch {' '.join(GENUINE_ENTRIES)}" in text


def test_a_hash_mismatch_is_an_error_not_a_fallback(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    entry = tiny_entry(build_wheel(index), sha256="0" * 64)
    store = Store(tmp_path / "cache", PackageIndex.local(index), {GENUINE_ENTRIES[0]: entry})
    with pytest.raises(HashMismatchError):
        resolve_weights(False, lambda _: None, store)
