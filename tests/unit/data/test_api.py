"""ftcore.data's public face: every name in ``__all__`` is the object its module defines, even
after all the submodules are imported (a submodule named like a function would shadow it)."""

from __future__ import annotations

import importlib
import pkgutil

import ftcore.data


def test_every_public_name_resolves_to_its_definition():
    modules = [m.name for m in pkgutil.iter_modules(ftcore.data.__path__, "ftcore.data.")]
    for name in modules:
        importlib.import_module(name)
    for name in ftcore.data.__all__:
        obj = getattr(ftcore.data, name)
        home = importlib.import_module(f"ftcore.data.{ftcore.data._API[name]}")
        assert obj is getattr(home, name), name
        assert name in home.__all__, name
    assert not set(ftcore.data.__all__) & {m.rsplit(".", 1)[1] for m in modules}
