"""ftcore.data.folder: class names, image files, sha256, duplicates and the layout errors, on
real folders of real PNG files."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ftcore.data.folder import scan_folder
from ftcore.errors import EmptyDataError, InvalidFileError, MissingFileError, UnknownNameError

from .images import make_folder, write_image


def test_classes_are_sorted_subfolders_and_files_are_hashed(tmp_path):
    make_folder(tmp_path, {"ok": 2, "dented": 3, "scratched": 1})
    write_image(tmp_path / "ok" / "deeper" / "x.JPG", 99, fmt="JPEG")  # nested, upper-case suffix
    scan = scan_folder(tmp_path)
    assert scan.class_names == ("dented", "ok", "scratched")
    assert [f.path for f in scan.files] == [
        "dented/0.png", "dented/1.png", "dented/2.png",
        "ok/0.png", "ok/1.png", "ok/deeper/x.JPG", "scratched/0.png",
    ]  # fmt: skip
    assert [f.label for f in scan.files] == [0, 0, 0, 1, 1, 1, 2]
    for f in scan.files:
        assert f.sha256 == hashlib.sha256((tmp_path / f.path).read_bytes()).hexdigest()
        assert scan.class_names[f.label] == f.class_name
    assert scan.duplicates == () and scan.bad == () and scan.ignored == ()


def test_given_class_names_set_the_labels_and_are_checked(tmp_path):
    make_folder(tmp_path, {"ok": 1, "dented": 1})
    scan = scan_folder(tmp_path, ["ok", "dented"])
    assert scan.class_names == ("ok", "dented")
    assert {f.class_name: f.label for f in scan.files} == {"ok": 0, "dented": 1}
    with pytest.raises(UnknownNameError, match=r"unknown class 'dentd' in .*; closest: 'dented'"):
        scan_folder(tmp_path, ["ok", "dentd"])
    with pytest.raises(InvalidFileError, match=r"class folders not among the given .*'dented'"):
        scan_folder(tmp_path, ["ok"])
    with pytest.raises(InvalidFileError, match=r"class names repeat"):
        scan_folder(tmp_path, ["ok", "dented", "ok"])


def test_duplicates_are_reported_with_their_paths(tmp_path):
    make_folder(tmp_path, {"a": 2, "b": 2})
    shutil.copy(tmp_path / "a" / "0.png", tmp_path / "a" / "copy.png")
    shutil.copy(tmp_path / "a" / "0.png", tmp_path / "b" / "same_as_a0.png")  # across classes
    scan = scan_folder(tmp_path)
    assert scan.duplicates == (("a/0.png", "a/copy.png", "b/same_as_a0.png"),)


def test_non_image_and_hidden_files(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()  # not a class
    assert scan_folder(tmp_path).ignored == ("a/notes.txt",)
    assert scan_folder(tmp_path).class_names == ("a", "b")


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(MissingFileError, match=r"no such folder: .*nowhere \(expected a folder"):
        scan_folder(tmp_path / "nowhere")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(InvalidFileError, match=r"f.png is not a folder"):
        scan_folder(tmp_path / "f.png")
    with pytest.raises(
        EmptyDataError, match=r"has no class subfolders \(1 image files lie directly in it\)"
    ):
        scan_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyDataError, match=r"empty has no class subfolders: expected one"):
        scan_folder(empty)


def test_one_class_only(tmp_path):
    make_folder(tmp_path, {"ok": 3})
    with pytest.raises(EmptyDataError, match=r"only one class folder \('ok'\): a classifier"):
        scan_folder(tmp_path)


def test_a_class_folder_without_images(tmp_path):
    make_folder(tmp_path, {"ok": 2})
    (tmp_path / "dented").mkdir()
    (tmp_path / "dented" / "readme.txt").write_text("nothing here")
    with pytest.raises(
        EmptyDataError, match=r"class folder .*dented has no image files \(expected"
    ):
        scan_folder(tmp_path)


def test_symlink_loops_are_bad_files(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    os.symlink("loop.jpg", tmp_path / "a" / "loop.jpg")  # a link to itself
    os.symlink("..", tmp_path / "b" / "up")  # a folder link back to the top folder
    os.symlink(".", tmp_path / "b" / "here")  # and one to its own folder
    os.symlink("gone.png", tmp_path / "b" / "broken.png")
    bad = {b.path: b.reason for b in scan_folder(tmp_path).bad}
    assert bad == {
        "a/loop.jpg": "symlink loop (the link leads back to itself)",
        "b/broken.png": "broken symlink to gone.png",
        "b/here": "symlink loop (the folder is already being searched)",
        "b/up": "symlink loop (the folder is already being searched)",
    }


def test_a_non_utf8_name_is_a_bad_file(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    raw = os.fsencode(tmp_path / "a") + b"/caf\xe9.png"  # Latin-1, not UTF-8
    with open(raw, "wb") as f:
        f.write((tmp_path / "a" / "0.png").read_bytes())
    [bad] = scan_folder(tmp_path).bad
    assert (
        bad.path == "a/b'caf\\xe9.png'" and bad.reason == "file name is not valid UTF-8 (rename it)"
    )


def test_a_pipe_is_not_read(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    os.mkfifo(tmp_path / "a" / "pipe.jpg")  # reading it would block forever
    [bad] = scan_folder(tmp_path).bad
    assert bad.path == "a/pipe.jpg" and bad.reason.startswith("not a regular file")


def _bad_as_nobody(root) -> list[list[str]]:
    """scan_folder(root).bad in a forked child that dropped root (uid 65534): root reads a
    chmod 000 file, nobody cannot."""
    import json

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            os.write(w, json.dumps([[b.path, b.reason] for b in scan_folder(root).bad]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(out)


def test_an_unreadable_file_is_a_bad_file(tmp_path):
    as_root = os.geteuid() == 0  # root reads chmod 000 files: scan as nobody in a forked child
    root = Path(tempfile.mkdtemp(prefix="ftcore-unreadable-")) if as_root else tmp_path
    try:
        make_folder(root, {"a": 2, "b": 1})
        for d in (root, root / "a", root / "b"):
            d.chmod(0o755)  # nobody may enter
        for f in root.rglob("*.png"):
            f.chmod(0o644)
        (root / "a" / "1.png").chmod(0o000)
        if as_root:
            bad = _bad_as_nobody(root)
        else:
            bad = [[b.path, b.reason] for b in scan_folder(root).bad]
        assert bad == [["a/1.png", "cannot read: Permission denied"]]
    finally:
        if as_root:
            shutil.rmtree(root)
