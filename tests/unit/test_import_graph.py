"""The wings form a stack: no module of ``ftcore/`` imports a wing above its own (nor a sibling).

Every ``import`` / ``from ... import`` statement is read with :mod:`ast` (module level, inside
functions, under ``if TYPE_CHECKING``), relative imports resolved. Imports named as strings
(``importlib.import_module``: the lazy ``ftcore.__getattr__``, the pretrained catalog's
converters) are not statements and are not checked. The order, bottom up:

- base modules ``ftcore/*.py`` and ``ftcore/assets`` (errors, atomic writes, cache folder, file
  kinds, preprocessing, the sidecar format, text tables, the shipped photos): import only each
  other;
- ``graph``, ``keras`` and ``evaluate`` (metrics, reports, pictures), siblings: none imports
  another;
- ``predict``: inference over graphs and Keras models;
- ``data`` (image folders, splits, ``tf.data`` input decoded by predict's loader) and
  ``export`` (freezing, self-checked against predict's loaders), siblings;
- ``pretrained``: conversions that write exports (sidecars) from graphs and Keras models;
- ``train``: the fine-tuning workflow on a folder (``ftcore train``), over all of the above;
- ``fixtures`` (the ``ftcore_fixtures`` package, test data and its builder): app only;
- ``app``: the command line and the demo.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ftcore

#: wing -> rank; a module may import its own wing and wings of lower rank only.
LAYERS = {
    "base": 0,
    "graph": 1,
    "keras": 1,
    "evaluate": 1,
    "predict": 2,
    "data": 3,
    "export": 3,
    "pretrained": 4,
    "train": 5,
    "fixtures": 6,
    "app": 7,
}
#: Sub-packages of ftcore that are not wings but base data (imported like base modules).
BASE_PACKAGES = ("assets",)

ROOT = Path(ftcore.__path__[0])


def wing_of_module(module: str) -> str | None:
    """The wing of a dotted module name, or None for a module outside ftcore."""
    parts = module.split(".")
    if parts[0] == "ftcore_fixtures":
        return "fixtures"
    if parts[0] != "ftcore":
        return None
    if len(parts) == 1 or parts[1] in BASE_PACKAGES or parts[1] not in LAYERS:
        return "base"
    return parts[1]


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every import statement in ``path``; ``from a import b``
    counts as importing ``a.b`` when ``b`` may be a module (it is judged by ``a.b``'s wing)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if module in ("ftcore", "ftcore_fixtures"):  # `from ftcore import pretrained`
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def upward_imports(root: Path = ROOT) -> list[str]:
    """``file:line: wing -> wing (module)`` for every import of a higher or sibling wing."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        here = wing_of_module(module_name(path, root))
        for line, module in imported_modules(path, root):
            there = wing_of_module(module)
            if there is None or there == here:
                continue
            if LAYERS[there] >= LAYERS[here] and not (there == "base" and here == "base"):
                rel = path.relative_to(root.parent)
                problems.append(f"{rel}:{line}: {here} -> {there} ({module})")
    return problems


def test_no_wing_imports_a_higher_or_sibling_wing():
    assert upward_imports() == []


def test_every_wing_of_ftcore_has_a_layer():
    wings = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert wings - set(BASE_PACKAGES) <= set(LAYERS), wings - set(LAYERS)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ftcore"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in [path.parent, *path.parent.parents]:
            if parent == tmp_path:
                break
            (parent / "__init__.py").touch()
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    "rel, text, arrow",
    [
        # a function-level import from a lower wing into a higher one
        (
            "graph/bad.py",
            "import os\n\n\ndef f():\n    from ftcore.export import pb\n",
            "ftcore/graph/bad.py:5: graph -> export (ftcore.export)",
        ),
        # the arrow this issue removed: predict reaching back into export
        (
            "predict/p.py",
            "from ftcore.export.kit import probe_batch\n",
            "ftcore/predict/p.py:1: predict -> export (ftcore.export.kit)",
        ),
        # a relative import that climbs out of its wing
        (
            "keras/k.py",
            "from ..graph import names\n",
            "ftcore/keras/k.py:1: keras -> graph (ftcore.graph)",
        ),
        # a base module importing a wing, spelled `from ftcore import wing`
        (
            "sidecar.py",
            "from ftcore import predict\n",
            "ftcore/sidecar.py:1: base -> predict (ftcore.predict)",
        ),
        # the library importing the test fixtures
        (
            "export/e.py",
            "import ftcore_fixtures.build\n",
            "ftcore/export/e.py:1: export -> fixtures (ftcore_fixtures.build)",
        ),
    ],
)
def test_the_check_refuses_an_upward_import_naming_the_file_and_the_arrow(
    tmp_path, rel, text, arrow
):
    root = _tree(tmp_path, {rel: text, "errors.py": "import difflib\n"})
    assert upward_imports(root) == [arrow]


def test_the_check_accepts_downward_and_same_wing_imports(tmp_path):
    root = _tree(
        tmp_path,
        {
            "app/cli.py": "from ftcore.export import pb\nimport ftcore_fixtures\n",
            "export/pb.py": "from ftcore.predict import load\nfrom . import kit\n",
            "predict/p.py": "from ftcore.graph import optimize\nfrom ftcore import sidecar\n",
            "sidecar.py": "from ftcore import atomic\nfrom ftcore.assets import photo_paths\n",
        },
    )
    assert upward_imports(root) == []
