"""The ``ftcore`` command: inspect models, freeze checkpoints, predict images.

TensorFlow is imported inside the verbs only, so ``ftcore --help`` is instant. User mistakes
(:class:`~ftcore.errors.FtcoreError`) print one line on stderr and exit 1.

Each verb is one module of :mod:`ftcore.app` (``verb_<name>.py``) with a
``register(subparsers)`` that adds its parser (see :func:`ftcore.app.verb.add_verb`); adding a
verb is one such module and one line in :data:`VERBS`::

    # ftcore/app/verb_hello.py
    def register(subparsers):
        add_verb(subparsers, "hello", "say hello", lambda args: print("hello"))

    $ ftcore inspect runs/slim            # variables of the newest checkpoint
    $ ftcore freeze runs/slim --output model.pb --outputs MobilenetV2/Predictions/Reshape_1
    $ ftcore predict model.pb cat.jpg --top 3
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ftcore import __version__
from ftcore.app.console import quiet_console
from ftcore.app.verb import VERBOSE_HELP
from ftcore.errors import FtcoreError

#: The verb modules, in the order of ``ftcore --help``; each has ``register(subparsers)``.
VERBS = (
    "ftcore.app.verb_inspect",
    "ftcore.app.verb_train",
    "ftcore.app.verb_freeze",
    "ftcore.app.verb_predict",
    "ftcore.app.verb_evaluate",
    "ftcore.app.verb_demo",
    "ftcore.app.verb_build_fixtures",
    "ftcore.app.verb_fetch",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``ftcore`` parser with every verb of :data:`VERBS` (nothing heavy is imported)."""
    parser = argparse.ArgumentParser(
        prog="ftcore", description="Fine-tuning core: inspect, freeze and run pretrained models."
    )
    parser.add_argument("--version", action="version", version=f"ftcore {__version__}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in VERBS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ftcore`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with quiet_console(verbose=args.verbose):
            return int(args._run(args) or 0)
    except FtcoreError as e:
        print(f"ftcore {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
