"""The contract between wings: each wing's ``__all__`` is its public face, every name in it (and
in ``ftcore.__all__``) resolves, and imports across wings go through the target's ``__all__``.

Checked with :mod:`ast` like ``test_import_graph.py``: a cross-wing ``from ftcore.<wing>.<module>
import name`` (or ``import ftcore.<wing>.<module>``) bypasses the wing's face; ``from
ftcore.<wing> import name`` must name something in ``ftcore/<wing>/__init__.py``'s ``__all__``.
Base modules (``ftcore/*.py``, ``ftcore/assets``) are their own faces: any name not private by
its leading underscore.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import ftcore
from tests.unit.test_import_graph import ROOT, _tree, module_name, wing_of_module

#: Wings whose own imports of other wings are checked here (every import they make of another
#: wing goes through its face).
CHECKED_SOURCES = ("base", "predict", "export", "data", "evaluate")
#: Wings whose face every importer must use, whatever wing it is in, except the importers in
#: PENDING_IMPORTERS (none left).
CHECKED_TARGETS = ("predict", "export")
PENDING_IMPORTERS = ()
#: Library wings with a public face (the app's face is ``ftcore --help``, not an ``__all__``).
WINGS = ("keras", "graph", "predict", "export", "pretrained", "assets", "data", "evaluate")


def face(root: Path, wing: str) -> set[str]:
    """The literal ``__all__`` of ``root/wing/__init__.py`` (empty when it declares none)."""
    tree = ast.parse((root / wing / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def _judged(here: str, there: str | None) -> bool:
    if there is None or there == here or there == "fixtures":
        return False
    return here in CHECKED_SOURCES or (there in CHECKED_TARGETS and here not in PENDING_IMPORTERS)


def bypasses(root: Path = ROOT) -> list[str]:
    """``file:line: what`` for every cross-wing import that goes around the target's face."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        here = wing_of_module(module_name(path, root))
        rel = path.relative_to(root.parent)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    there = wing_of_module(alias.name)
                    if _judged(here, there) and there != "base":
                        problems.append(f"{rel}:{node.lineno}: import {alias.name} bypasses a face")
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                problems += _from_import_problems(root, rel, here, node)
    return problems


def _from_import_problems(root: Path, rel: Path, here: str, node: ast.ImportFrom) -> list[str]:
    parts, names = node.module.split("."), [a.name for a in node.names]
    there = wing_of_module(node.module)
    if not _judged(here, there) or parts[0] != "ftcore" or len(parts) == 1:
        return []
    where = f"{rel}:{node.lineno}: from {node.module} import {', '.join(names)}"
    if there == "base":
        private = [n for n in names if n.startswith("_")]
        return [f"{where}: {', '.join(private)} private"] if private else []
    if len(parts) > 2:
        return [f"{where} bypasses ftcore.{there}.__all__"]
    missing = sorted(set(names) - face(root, there))
    return [f"{where}: {', '.join(missing)} not in ftcore.{there}.__all__"] if missing else []


def test_imports_across_wings_go_through_the_faces():
    assert bypasses() == []


@pytest.mark.parametrize(
    "files, problem",
    [
        (
            {"export/e.py": "from ftcore.graph.names import op_name\n"},
            "ftcore/export/e.py:1: from ftcore.graph.names import op_name "
            "bypasses ftcore.graph.__all__",
        ),
        (
            {"predict/p.py": "def f():\n    from ftcore.graph import op_name, secret\n"},
            "ftcore/predict/p.py:2: from ftcore.graph import op_name, secret: "
            "secret not in ftcore.graph.__all__",
        ),
        (  # an unchecked wing still must use the face of export and predict
            {"keras/k.py": "from ftcore.predict.predictor import load_keras_model\n"},
            "ftcore/keras/k.py:1: from ftcore.predict.predictor import load_keras_model "
            "bypasses ftcore.predict.__all__",
        ),
        (
            {"export/e.py": "import ftcore.graph.names\n"},
            "ftcore/export/e.py:1: import ftcore.graph.names bypasses a face",
        ),
        (
            {"export/e.py": "from ftcore.errors import _helper\n"},
            "ftcore/export/e.py:1: from ftcore.errors import _helper: _helper private",
        ),
    ],
)
def test_the_check_refuses_an_import_around_a_face(tmp_path, files, problem):
    faces = {
        "graph/__init__.py": '__all__ = ["op_name"]\n',
        "predict/__init__.py": '__all__ = ["load"]\n',
    }
    assert bypasses(_tree(tmp_path, {**faces, **files})) == [problem]


def unresolved(module_name: str) -> list[str]:
    """Names in ``module_name.__all__`` that do not resolve (or are private, or repeated)."""
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    problems = [f"{module_name}.{n} repeated" for n in set(names) if names.count(n) > 1]
    for name in names:
        if name.startswith("_"):
            problems.append(f"{module_name}.{name} is private")
        try:
            getattr(module, name)
        except AttributeError:
            problems.append(f"{module_name}.{name} does not resolve")
    return sorted(problems)


@pytest.mark.parametrize("wing", ["ftcore", *(f"ftcore.{w}" for w in WINGS)])
def test_every_public_name_resolves(wing):
    assert importlib.import_module(wing).__all__, f"{wing} declares no public names"
    assert unresolved(wing) == []


def test_ftcore_names_point_into_the_wings():
    for name in ftcore.__all__:
        module = getattr(ftcore, name).__module__
        assert module.startswith("ftcore."), (name, module)


def test_the_resolver_refuses_a_name_that_does_not_resolve(monkeypatch):
    import ftcore.assets as assets

    monkeypatch.setattr(assets, "__all__", [*assets.__all__, "photo_paths", "nowhere", "_x"])
    assert unresolved("ftcore.assets") == [
        "ftcore.assets._x does not resolve",
        "ftcore.assets._x is private",
        "ftcore.assets.nowhere does not resolve",
        "ftcore.assets.photo_paths repeated",
    ]
