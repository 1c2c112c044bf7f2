"""``ftcore build-fixtures``: pretrain the fixture models on the shipped digits (cached by
content; the builder is :mod:`ftcore_fixtures.build`).

    $ ftcore build-fixtures --out /tmp/fixtures --force
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ftcore.app.verb import add_verb

HELP = "pretrain the fixture models on the shipped digits (cached by content)"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "build-fixtures", HELP, run)
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the cache)")
    p.add_argument("--force", action="store_true", help="rebuild even if already built")
    return p


def run(args: argparse.Namespace) -> int:
    from ftcore_fixtures.build import main as build_main

    argv = (["--out", str(args.out)] if args.out else []) + (["--force"] if args.force else [])
    return build_main(argv)
