"""Every kind of output ftcore writes gets the mode a plain new file would (``0o666`` less the
umask; folders ``0o777`` less it), not tempfile's ``0o600``: real writers under umask 0022 and
0077 (``.pb``, ``.tflite``, sidecars, graph and Keras checkpoints; the store's cache entries
and installed Keras files are in tests/unit/pretrained/test_store.py)."""

from __future__ import annotations

import pytest

from tests.helpers.faults import run_ok, writer
from tests.helpers.graph_nets import slim_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return slim_checkpoint(tmp_path_factory.mktemp("ckpt"), 0)


@pytest.mark.parametrize(("mask", "file", "folder"), [("022", 0o644, 0o755), ("077", 0o600, 0o700)])
def test_every_output_gets_the_mode_the_umask_allows(tmp_path, ckpt, mask, file, folder):
    (tmp_path / "labels.txt").write_text("a\nb\nc\nd\ne\n")
    out = tmp_path / "out"
    cmd = writer("outputs", ckpt, out, tmp_path / "labels.txt")
    run_ok(["sh", "-c", f'umask {mask} && exec "$@"', "sh", *cmd])
    modes = {str(p.relative_to(out)): p.stat().st_mode & 0o777 for p in out.rglob("*")}
    names = set(modes)
    assert {"model.pb", "model.pb.json", "model.tflite", "model.tflite.json"} <= names, names
    assert any(n.startswith("graph/") and n.endswith(".index") for n in names), names
    assert any(n.startswith("keras/") and n.endswith(".keras") for n in names), names
    wrong = {
        n: oct(m)
        for n, m in modes.items()
        if m != (folder if (out / n).is_dir() else file) and not n.rsplit("/")[-1].startswith(".")
    }
    assert not wrong, f"umask {mask}: expected files {oct(file)}, folders {oct(folder)}"
