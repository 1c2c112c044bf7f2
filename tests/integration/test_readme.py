"""The README's examples run as written, so they cannot rot.

Every ```python block runs in order in one namespace, then every ``$ ftcore ...`` line of the
```console blocks runs as a subprocess, all in a fresh folder that links ``fixtures/`` (the
examples use the shipped photos). ```bash blocks (install, tox) are what CI itself runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, pretrained):
    path = tmp_path_factory.mktemp("readme")
    (path / "fixtures").symlink_to(ROOT / "fixtures")
    return path


@pytest.fixture(scope="module")
def python_examples(workdir):
    """Run every python block; return the namespace they built."""
    assert len(blocks("python")) >= 4
    namespace: dict = {"__name__": "readme"}
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        for i, code in enumerate(blocks("python")):
            exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_python_examples_run_and_produce_their_outputs(python_examples, workdir):
    assert [s.cached for s in python_examples["result"].stages] == [True, True]
    assert (workdir / "runs" / "graph.pb").is_file()
    assert list((workdir / "runs" / "keras" / "logs").rglob("events.out.tfevents.*"))
    assert python_examples["sidecar"].check["optimized_max_abs_diff"] < 1e-3


CLI_LINES = [
    line[2:] for block in blocks("console") for line in block.splitlines() if line.startswith("$ ")
]


@pytest.mark.parametrize("line", CLI_LINES)
def test_cli_examples_succeed(python_examples, workdir, line):
    args = shlex.split(line)
    assert args[0] == "ftcore"
    proc = subprocess.run(
        [sys.executable, "-m", "ftcore.app.cli", *args[1:]],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()


PROOFS = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", README)


@pytest.mark.parametrize(("path", "name"), PROOFS)
def test_pitfalls_table_names_tests_that_exist(path, name):
    assert len(PROOFS) >= 10
    assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), flags=re.M), f"{path}::{name}"
