"""Running the ``ftcore`` command in-process, and reading its tables, for the app tests."""

from __future__ import annotations

import re

from ftcore.app.cli import main


def cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``ftcore *argv`` run in this process."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def row(out: str, *cells: str) -> bool:
    """Whether a table line holds ``cells`` in order, as whole columns."""
    pattern = r"\s{2,}".join(re.escape(c) for c in cells)
    return re.search(rf"^{pattern}(\s|$)", out, re.MULTILINE) is not None
