"""The session's environment check (``tests.helpers.isolation``) bites: a pytest session whose
test changes ``os.environ``, the cwd or the umask fails at teardown naming the change, and one
that restores what it changes passes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers.isolation import differences

REPO = Path(__file__).resolve().parents[2]

CHANGES = {  # what a test does -> what the failed session must say
    "env-deleted": (
        'os.environ.pop("FTCORE_CACHE_DIR")',
        "os.environ['FTCORE_CACHE_DIR'] was deleted",
    ),
    "env-added": (
        'os.environ["FTCORE_GATES_PROBE"] = "1"',
        "os.environ['FTCORE_GATES_PROBE'] was added",
    ),
    "env-changed": (
        'os.environ["FTCORE_GATES_CHANGED"] = "after"',
        "os.environ['FTCORE_GATES_CHANGED'] changed from 'before' to 'after'",
    ),
    "cwd": ("os.chdir(os.path.dirname(os.getcwd()))", "the working directory changed"),
    "umask": ("os.umask(0o077)", "the umask changed from 022 to 077"),
}


def _run_session(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(
        "from tests.helpers.isolation import environment_unchanged  # noqa: F401\n"
    )
    (tmp_path / "test_probe.py").write_text(
        textwrap.dedent(
            f"""
            import os

            def test_probe():
                {body}
            """
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "FTCORE_CACHE_DIR": str(tmp_path / "cache"),
        "FTCORE_GATES_CHANGED": "before",
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys, pytest; os.umask(0o022); sys.exit(pytest.main(sys.argv[1:]))",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_change_left_behind_fails_the_session_and_is_named(tmp_path):
    """One session whose test makes every change of :data:`CHANGES` (one run: it starts a
    Python process): it fails at teardown and names each change."""
    result = _run_session(tmp_path, "; ".join(body for body, _ in CHANGES.values()))
    assert result.returncode != 0, result.stdout
    assert "left the environment changed" in result.stdout, result.stdout
    for change, (_, message) in CHANGES.items():
        assert message in result.stdout, (change, result.stdout)


def test_a_restored_change_passes(tmp_path):
    body = (
        'saved = os.environ.pop("FTCORE_CACHE_DIR"); os.environ["FTCORE_CACHE_DIR"] = saved; '
        "os.umask(os.umask(0o077))"
    )
    result = _run_session(tmp_path, body)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cache_example_restores_the_cache_dir():
    import doctest

    import ftcore.cache

    before = dict(os.environ)
    result = doctest.testmod(ftcore.cache)
    assert result.attempted > 0 and result.failed == 0
    assert dict(os.environ) == before


def test_variables_a_library_sets_on_import_may_appear_but_not_change():
    """TensorFlow sets ``TF2_BEHAVIOR`` (and others) when first imported, which may be midway
    through a session: that is not a test's change; deleting or changing one still is."""
    before = {"environ": {"A": "1", "TF2_BEHAVIOR": "1"}, "cwd": "/", "umask": 0o022}
    imported = {**before, "environ": {"A": "1", "TF2_BEHAVIOR": "1", "TPU_ML_PLATFORM": "x"}}
    assert differences(before, imported) == []
    assert differences({**before, "environ": {"A": "1"}}, imported) == []
    changed = {**before, "environ": {"A": "1", "TF2_BEHAVIOR": "0"}}
    assert differences(before, changed) == ["os.environ['TF2_BEHAVIOR'] changed from '1' to '0'"]
    assert differences(before, {**before, "environ": {"A": "1"}}) == [
        "os.environ['TF2_BEHAVIOR'] was deleted (was '1')"
    ]
    added = {**before, "environ": {**before["environ"], "FTCORE_X": "1"}}
    assert differences(before, added) == ["os.environ['FTCORE_X'] was added ('1')"]
