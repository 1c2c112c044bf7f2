"""ftcore.data.split and split_file: seeded stratified splits that keep same-content files
together, and the split file that pins them (round trip, changed folders refused)."""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftcore.data import SplitMismatchError, load_folder, make_split, read_split, write_split
from ftcore.data.folder import ImageFile
from ftcore.errors import EmptyDataError, InvalidFileError

from .images import make_folder, write_image

NAMES = ("a", "b", "c")


def _files(counts, dup_of):
    """``counts[c]`` files per class; file k's content is that of file ``dup_of.get(k, k)``."""
    files, k = [], 0
    for label, n in enumerate(counts):
        for i in range(n):
            files.append(ImageFile(f"{NAMES[label]}/{i:03d}.png", label, NAMES[label], f"h{k}"))
            k += 1
    return [
        ImageFile(f.path, f.label, f.class_name, f"h{dup_of.get(i, i)}")
        for i, f in enumerate(files)
    ]


@st.composite
def datasets(draw):
    counts = draw(st.lists(st.integers(10, 40), min_size=2, max_size=3))
    total = sum(counts)
    dup_of = draw(st.dictionaries(st.integers(0, total - 1), st.integers(0, total - 1), max_size=8))
    return _files(counts, dup_of), NAMES[: len(counts)]


@given(datasets(), st.sampled_from([(0.2, 0.0), (0.25, 0.1), (0.5, 0.0)]), st.integers(0, 3))
def test_stratified_deterministic_and_duplicates_stay_together(data, fractions, seed):
    files, names = data
    validation, test = fractions
    split = make_split(files, names, validation, test, seed)
    assert split == make_split(list(reversed(files)), names, validation, test, seed)  # order-free
    assert sorted(split.split_of) == sorted(f.path for f in files)
    by_hash: dict[str, set] = {}
    for f in files:
        by_hash.setdefault(f.sha256, set()).add(split.split_of[f.path])
    assert all(len(s) == 1 for s in by_hash.values()), "a content landed in two splits"
    for label, cls in enumerate(names):  # per class: distinct contents cut by the fractions
        groups = {f.sha256 for f in files if f.label == label and f.path == min(
            g.path for g in files if g.sha256 == f.sha256)}  # fmt: skip
        contents = {}
        for f in files:
            if f.sha256 in groups:
                contents.setdefault(split.split_of[f.path], set()).add(f.sha256)
        n = len(groups)
        assert len(contents.get("validation", ())) == math.floor(n * validation + 0.5), cls
        assert len(contents.get("test", ())) == math.floor(n * test + 0.5), cls


def test_the_seed_changes_the_split_and_only_its_own_class():
    files = _files([20, 20], {})
    one, two = make_split(files, NAMES[:2], seed=0), make_split(files, NAMES[:2], seed=1)
    assert one.subset("validation") != two.subset("validation")
    three = make_split(_files([20, 20, 10], {}), NAMES, seed=0)  # a third class added
    assert [f for f in three.subset("validation") if f.label < 2] == list(one.subset("validation"))


def test_a_validation_split_that_empties_a_class_names_it():
    files = _files([20, 3], {})
    with pytest.raises(
        EmptyDataError,
        match=r"^validation fraction 0.1 leaves class 'b' empty: it has 3 distinct images; "
        r"one in validation needs at least 5$",
    ):
        make_split(files, NAMES[:2], validation=0.1)
    with pytest.raises(EmptyDataError, match=r"^test fraction 0.05 leaves class 'a' empty"):
        make_split(_files([5, 5], {}), NAMES[:2], validation=0.2, test=0.05)
    with pytest.raises(EmptyDataError, match=r"^class 'b' has 1 distinct images: none is left"):
        make_split(_files([4, 1], {}), NAMES[:2], validation=0.5)
    dups = _files([20, 10], {20 + i: 20 for i in range(10)})  # class b: ten copies of one image
    with pytest.raises(EmptyDataError, match=r"leaves class 'b' empty: it has 1 distinct images"):
        make_split(dups, NAMES[:2], validation=0.2)


@pytest.mark.parametrize(("validation", "test"), [(-0.1, 0), (1.0, 0), (0.5, 0.5), (0, 1.2)])
def test_fractions_are_checked(validation, test):
    with pytest.raises(ValueError, match=r"fractions must each be in \[0, 1\) and leave some"):
        make_split(_files([10, 10], {}), NAMES[:2], validation, test)


@pytest.fixture
def folder(tmp_path):
    root = make_folder(tmp_path / "images", {"ok": 6, "dented": 5})
    shutil.copy(root / "ok" / "0.png", root / "dented" / "dup.png")
    return root


def test_the_split_file_round_trips_and_records_everything(folder, tmp_path):
    loaded = load_folder(folder)
    split = make_split(loaded.files, loaded.class_names, validation=0.3, test=0.2, seed=7)
    path = write_split(tmp_path / "run" / "split.json", split)
    assert read_split(path, folder) == split
    doc = json.loads(path.read_text())
    assert doc["format"] == "ftcore-split" and doc["version"] == 1 and doc["seed"] == 7
    assert doc["fractions"] == {"train": 0.5, "validation": 0.3, "test": 0.2}
    assert doc["class_names"] == ["dented", "ok"]
    assert doc["files"][0].keys() == {"path", "class", "sha256", "split"}
    assert {e["path"]: e["split"] for e in doc["files"]} == split.split_of
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["split.json"]  # no temporaries left
    dup = {e["split"] for e in doc["files"] if e["path"] in ("ok/0.png", "dented/dup.png")}
    assert len(dup) == 1


def test_a_changed_folder_is_refused_listing_every_file(folder, tmp_path):
    loaded = load_folder(folder)
    path = write_split(tmp_path / "split.json", make_split(loaded.files, loaded.class_names))
    (folder / "ok" / "1.png").unlink()
    (folder / "dented" / "2.png").unlink()
    write_image(folder / "ok" / "3.png", value=1234)
    with pytest.raises(SplitMismatchError) as info:
        read_split(path, folder)
    assert str(info.value).splitlines() == [
        f"split file {path} no longer matches the folder {folder}: 2 files missing, 1 changed",
        "  missing: dented/2.png",
        "  missing: ok/1.png",
        "  changed (sha256 differs): ok/3.png",
    ]
    assert read_split(path, folder, verify=False).files == loaded.files  # the record is intact


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"is not a split file \(JSON\): Expecting property name"),
        ('{"format": "other", "version": 1}', r"is not a ftcore-split version 1 file \(format 'other'"),
        ('{"format": "ftcore-split", "version": 1}', r"is not a valid split file: KeyError"),
    ],
)  # fmt: skip
def test_a_bad_split_file_is_named(tmp_path, text, message):
    (tmp_path / "split.json").write_text(text)
    with pytest.raises(InvalidFileError, match=message):
        read_split(tmp_path / "split.json", tmp_path)


def test_counts_are_per_class_for_the_splits_asked_for():
    """``counts()`` counts files per class, copies included, for the positive fractions only."""
    files = _files([10, 20], {})
    files.append(ImageFile("b/copy.png", 1, "b", files[-1].sha256))  # 21 files, 20 contents
    split = make_split(files, NAMES[:2], validation=0.2, seed=3)
    copy_in_val = split.split_of["b/copy.png"] == "validation"
    assert split.counts() == {
        "train": {"a": 8, "b": 17 - copy_in_val},
        "validation": {"a": 2, "b": 4 + copy_in_val},
    }
    with_test = make_split(_files([10, 20], {}), NAMES[:2], validation=0.2, test=0.1).counts()
    assert with_test == {
        "train": {"a": 7, "b": 14},
        "validation": {"a": 2, "b": 4},
        "test": {"a": 1, "b": 2},
    }


def test_an_unknown_subset_is_refused_naming_the_choices():
    split = make_split(_files([10, 10], {}), NAMES[:2])
    with pytest.raises(ValueError, match=r"^unknown split 'val'; choose from \['train', 'valid"):
        split.subset("val")


def test_a_class_with_no_files_needs_at_least_one_at_a_large_fraction():
    """At a fraction of 0.5 or more one distinct image gives one in that split: need 1, not 2."""
    with pytest.raises(
        EmptyDataError,
        match=r"^validation fraction 0.6 leaves class 'c' empty: it has 0 distinct images; "
        r"one in validation needs at least 1$",
    ):
        make_split(_files([10, 10], {}), NAMES, validation=0.6)


def test_a_zero_fraction_is_allowed_and_makes_no_split():
    """``validation=0`` (train and test only) is a valid choice, not a refused fraction."""
    split = make_split(_files([10, 10], {}), NAMES[:2], validation=0.0, test=0.2)
    assert split.counts() == {"train": {"a": 8, "b": 8}, "test": {"a": 2, "b": 2}}
    assert split.subset("validation") == ()


def test_the_default_seed_is_zero_and_recorded():
    """A split made without a seed is the one of ``seed=0``: changing the default would
    silently change the split of every run that relied on it."""
    files = _files([20, 20], {})
    default = make_split(files, NAMES[:2])
    assert default.seed == 0
    assert default == make_split(files, NAMES[:2], seed=0)
    assert default.split_of != make_split(files, NAMES[:2], seed=1).split_of


def test_train_keeps_the_last_image_of_a_class_and_must_keep_one():
    """Two distinct images at validation 0.5: one each (one left for train is enough); with
    a test fraction taking the other, nothing is left for train and the class is named."""
    split = make_split(_files([10, 2], {}), NAMES[:2], validation=0.5)
    assert split.counts()["train"]["b"] == 1 and split.counts()["validation"]["b"] == 1
    with pytest.raises(
        EmptyDataError,
        match=r"^class 'b' has 2 distinct images: none is left for train after validation 0.5 "
        r"and test 0.25$",
    ):
        make_split(_files([10, 2], {}), NAMES[:2], validation=0.5, test=0.25)
