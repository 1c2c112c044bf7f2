"""Every docstring example in ftcore and its fixtures package runs and prints what it says,
package ``__init__`` files included (their examples are the wings' front page).

Examples that need a checkpoint or a ``.pb`` use the test models of ``ftcore_fixtures`` (the
``pretrained`` fixture builds them first, so no build output lands in an example's output)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import ftcore

MODULES = (
    ["ftcore"]
    + [m.name for m in pkgutil.walk_packages(ftcore.__path__, "ftcore.")]
    + [
        "ftcore_fixtures",
        "ftcore_fixtures.digits",
        "ftcore_fixtures.build",
    ]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, pretrained):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, result


def test_package_front_pages_are_collected():
    packages = {m.name for m in pkgutil.walk_packages(ftcore.__path__, "ftcore.") if m.ispkg}
    assert {"ftcore.export", "ftcore.predict", "ftcore.graph", "ftcore.keras"} <= packages
    assert packages <= set(MODULES)
