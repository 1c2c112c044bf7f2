"""Plain-text tables for the CLI, the demo summary and the freeze report.

>>> print(format_table(["#", "name", "shape"], [[1, "w", (3, 3)], [10, "bias", (3,)]], right={0}))
 #  name  shape
 1  w     (3, 3)
10  bias  (3,)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Collection[int] = ()
) -> str:
    """Columns padded to their widest cell; left-aligned except the column indexes in ``right``."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in cells
    )
