"""Fuzzed parsers: mutated valid files and random bytes through every public loader and the
CLI. Each loader runs in a worker process (a crash or a hang is seen, not lived through); the
outcome must be a result or an FtcoreError with a one-line message, and no file may be written.

Budget: the hypothesis profile's ``max_examples`` per case (``ci``: 12), or
``FTCORE_FUZZ_EXAMPLES``; ``FTCORE_FUZZ_REPORT=path.json`` writes the outcome counts.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import tempfile
from pathlib import Path

import keras
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ftcore.export import onnx as onnx_export
from ftcore.export.litert import export_keras
from ftcore.sidecar import Sidecar, TensorInfo, sidecar_path
from tests.helpers.exports import small_keras_model
from tests.helpers.fuzz import Worker, mutated, snapshot
from tests.helpers.graph_nets import PREDICTIONS

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FTCORE_FUZZ_EXAMPLES", settings().max_examples))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
IMAGE_FORMATS = ("jpg", "png", "gif", "tiff", "bmp", "webp")
MEMBER_GLOB = {"index": "*.index", "data": "*.data-*", "meta": "*.meta", "checkpoint": "checkpoint"}
OUTCOMES: collections.Counter = collections.Counter()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def worker(base):
    w = Worker(base / "worker_cwd")
    w.cwd.mkdir()
    yield w
    w.close()
    report = os.environ.get("FTCORE_FUZZ_REPORT")
    if report:
        rows = [
            {"loader": k[0], "sample": k[1], "outcome": k[2], "n": n} for k, n in OUTCOMES.items()
        ]
        Path(report).write_text(
            json.dumps({"examples_per_case": EXAMPLES, "outcomes": rows}, indent=1)
        )


@pytest.fixture(scope="module")
def samples(base, slim_ckpt, slim_pb, photos) -> dict[str, Path]:
    """Valid files of every kind (a checkpoint is a folder)."""
    out = base / "samples"
    out.mkdir()
    keras.utils.clear_session()  # layer names the worker's model will have too
    model = small_keras_model()
    model.save(out / "model.keras")
    model.save_weights(out / "model.weights.h5")
    model.save(out / "model.h5")  # legacy HDF5: layer names checked before loading
    sidecar = Sidecar(
        [TensorInfo("input:0", [None, 32, 32, 3], "float32")],
        [TensorInfo(PREDICTIONS + ":0", [None, 5], "float32")],
        labels=list("abcde"),
    )
    (out / "model.pb.json").write_text(sidecar.to_json())
    export_keras(model, out / "model.tflite")
    onnx_export.export_keras(model, out / "model.onnx")
    sidecar_path(out / "model.onnx").unlink()  # the mutations must reach the parser
    cat = Image.open(photos["chelsea_cat"]).convert("RGB").resize((24, 16))
    for fmt in IMAGE_FORMATS:
        cat.save(out / f"cat.{fmt}")
    found = {
        "pb": Path(slim_pb),
        "meta": next(Path(slim_ckpt).glob("*.meta")),
        "ckpt": Path(slim_ckpt),
        "keras": out / "model.keras",
        "tflite": out / "model.tflite",
        "onnx": out / "model.onnx",
        "weights.h5": out / "model.weights.h5",
        "h5": out / "model.h5",
        "sidecar": out / "model.pb.json",
    }
    return found | {f"image.{fmt}": out / f"cat.{fmt}" for fmt in IMAGE_FORMATS}


def _case_file(base: Path, samples, sample: str, member: str, content: bytes) -> Path:
    """A fresh folder holding ``sample`` with ``member`` (a checkpoint's file) set to ``content``."""
    folder = Path(tempfile.mkdtemp(dir=base))
    if sample == "ckpt":
        ckpt = folder / "ckpt"
        shutil.copytree(samples["ckpt"], ckpt)
        next(ckpt.glob(MEMBER_GLOB[member])).write_bytes(content)
        return ckpt
    src = samples[sample]
    target = folder / ("model.pb.json" if sample == "sidecar" else src.name)
    target.write_bytes(content)
    return target


def _check(worker, base, loader: str, sample: str, path: Path) -> None:
    before = snapshot(path.parent, worker.cwd)
    reply = worker.run(loader, path)
    after = snapshot(path.parent, worker.cwd)
    outcome = reply.get("type", reply["outcome"]) if reply["outcome"] != "ok" else "ok"
    OUTCOMES[(loader, sample, outcome)] += 1
    assert reply["outcome"] in ("ok", "error"), f"{loader} on {path}: {reply}"
    if reply["outcome"] == "error":
        assert reply["ftcore"], f"{loader} leaked {reply['type']}: {reply['message']}"
        assert reply["lines"] == 1, f"{loader}: multi-line message {reply['message']!r}"
    assert after == before, f"{loader} wrote files: {set(after) ^ set(before)}"
    shutil.rmtree(path.parent, ignore_errors=True)


MUTATION_CASES = [
    ("load_graph_def", "pb"),
    ("predictor.load", "pb"),
    ("ftcore inspect", "pb"),
    ("load_meta_graph", "meta"),
    ("ftcore inspect", "meta"),
    ("checkpoint_contents", "ckpt"),
    ("predictor.load", "ckpt"),  # restore_meta_graph, then one batch
    ("predictor.load", "keras"),
    ("predictor.load", "tflite"),
    ("predictor.load", "onnx"),
    ("ftcore inspect", "keras"),
    ("load_checked_weights", "weights.h5"),
    ("load_checked_weights", "h5"),
    ("ftcore inspect", "h5"),
    ("load_image", "image"),
    ("read_sidecar", "sidecar"),
]


@pytest.mark.parametrize("loader, sample", MUTATION_CASES)
def test_valid_files_load(loader, sample, samples, worker, base):
    """The baseline: each loader accepts the unmutated file (so the fuzzing reaches past it)."""
    sample = "image.jpg" if sample == "image" else sample
    source = samples[sample]
    content = b"" if sample == "ckpt" else source.read_bytes()
    if sample == "ckpt":
        path = Path(tempfile.mkdtemp(dir=base)) / "ckpt"
        shutil.copytree(source, path)
    else:
        path = _case_file(base, samples, sample, "", content)
    assert worker.run(loader, path) == {"outcome": "ok"}


@pytest.mark.parametrize("loader, sample", MUTATION_CASES)
@FUZZ
@given(data=st.data())
def test_mutated_valid_files(loader, sample, data, samples, worker, base):
    member = ""
    if sample == "ckpt":
        member = data.draw(st.sampled_from(sorted(MEMBER_GLOB)), label="member")
        source = next(samples["ckpt"].glob(MEMBER_GLOB[member]))
    elif sample == "image":
        sample = "image." + data.draw(st.sampled_from(IMAGE_FORMATS), label="format")
        source = samples[sample]
    else:
        source = samples[sample]
    content = data.draw(mutated(source.read_bytes()), label="content")
    path = _case_file(base, samples, sample, member, content)
    _check(worker, base, loader, sample, path)


#: One case per parser: random bytes never get past the first one.
RANDOM_CASES = [
    ("load_graph_def", "pb"),
    ("load_meta_graph", "meta"),
    ("checkpoint_contents", "ckpt"),
    ("predictor.load", "keras"),
    ("predictor.load", "tflite"),
    ("predictor.load", "onnx"),
    ("load_checked_weights", "h5"),
    ("load_image", "image"),
    ("read_sidecar", "sidecar"),
]


@pytest.mark.parametrize("loader, sample", RANDOM_CASES)
@FUZZ
@given(content=st.binary(max_size=2048))
def test_random_bytes(loader, sample, content, samples, worker, base):
    sample = "image.png" if sample == "image" else sample
    path = _case_file(base, samples, sample, "index", content)
    _check(worker, base, loader, sample, path)
