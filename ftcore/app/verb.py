"""What every verb module shares: how a verb joins the ``ftcore`` parser, and the labels file.

A verb is a module of :mod:`ftcore.app` with ``register(subparsers)``, which calls
:func:`add_verb` and adds its own arguments; ``ftcore.app.cli.VERBS`` lists the modules.

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="ftcore").add_subparsers()
    >>> p = add_verb(sub, "hello", "say hello", lambda args: print("hello") or 0)
    >>> p.parse_args(["--verbose"]).verbose
    True
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ftcore.file_kinds import read_text

VERBOSE_HELP = "show every TensorFlow message (by default the known-harmless ones are hidden)"


def add_verb(
    subparsers: argparse._SubParsersAction,
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int | None],
) -> argparse.ArgumentParser:
    """The parser of verb ``name``: ``help`` is its one line in ``ftcore --help`` and its
    description, ``run(args)`` its implementation (returns the exit status; ``None`` is 0)."""
    p = subparsers.add_parser(name, help=help, description=help)
    p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    p.set_defaults(_run=run)
    return p


def read_labels(path: str | None) -> list[str] | None:
    """The class names of a labels file (one per line, blank lines skipped); ``None`` stays."""
    if path is None:
        return None
    text = read_text(path, "a labels file (one class name per line)")
    return [line.strip() for line in text.splitlines() if line.strip()]
