"""The ftcore command itself: every verb module is registered and answers ``--help`` without
TensorFlow; user mistakes are one line on stderr and exit 1, with no traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import ftcore.app
from ftcore.app.cli import VERBS, build_parser, main
from tests.unit.app.cli_run import cli

#: The verb a module registers: ``ftcore.app.verb_build_fixtures`` -> ``build-fixtures``.
VERB_NAMES = [m.rsplit(".", 1)[1].removeprefix("verb_").replace("_", "-") for m in VERBS]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_verb_module_is_registered_in_order():
    modules = sorted(p.stem for p in Path(ftcore.app.__file__).parent.glob("verb_*.py"))
    assert sorted(m.rsplit(".", 1)[1] for m in VERBS) == modules, "a verb module not in VERBS"
    assert list(subcommands()) == VERB_NAMES  # each module registers its verb, in VERBS order
    assert {"inspect", "freeze", "predict", "demo", "build-fixtures", "fetch"} <= set(VERB_NAMES)


@pytest.mark.parametrize("verb", VERB_NAMES)
def test_each_verb_help_runs_and_shows_its_description(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert out.startswith(f"usage: ftcore {verb} [-h] [--verbose]")
    description = " ".join(subcommands()[verb].description.split())
    assert description in " ".join(out.split())


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\nfrom ftcore.app.cli import main\n"
        f"for argv in [['--help'], *([v, '--help'] for v in {VERB_NAMES!r})]:\n"
        "    try: main(argv)\n    except SystemExit: pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "inspect" in result.stdout and "--top K" in result.stdout
    assert result.stdout.count("usage: ftcore") == len(VERB_NAMES) + 1


def test_no_verb_prints_the_help_and_exits_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("usage: ftcore [-h] [--version] [--verbose]")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["inspect", "{tmp}/missing"], "no such file or directory: {tmp}/missing"),
        (["predict", "{tmp}/junk.pb", "x.jpg"], "junk.pb is not a binary GraphDef protobuf"),
        (["inspect", "{tmp}/junk.pb"], "junk.pb is not a binary GraphDef protobuf"),
        (["predict", "{pb}", "{tmp}/nope.jpg"], "nope.jpg"),
        (
            [
                "freeze",
                "{slim_ckpt}",
                "--output",
                "{tmp}/o.pb",
                "--outputs",
                "MobilenetV2/Predictions/Reshap_1",
            ],
            "unknown output 'MobilenetV2/Predictions/Reshap_1'; closest: 'MobilenetV2/Predictions/Reshape_1'",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_nonzero(
    argv, message, tmp_path, slim_ckpt, frozen_pb, capsys
):
    (tmp_path / "junk.pb").write_bytes(b"definitely not a graph \xff\x00")
    fill = {"tmp": tmp_path, "slim_ckpt": slim_ckpt, "pb": frozen_pb}
    code, out, err = cli(capsys, *[a.format(**fill) for a in argv])
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"ftcore {argv[0]}: error: ")
    assert message.format(**fill) in err
    assert not (tmp_path / "o.pb").exists()


def test_error_exit_in_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ftcore.app.cli", "inspect", str(tmp_path / "nothing.pb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "error: no such file or directory" in result.stderr
