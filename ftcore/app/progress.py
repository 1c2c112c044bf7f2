"""Progress of a long loop on stderr: one line rewritten in place on a terminal, else one line
per update (every ``step`` of the total, and the last), so CI logs stay readable.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progress(10, "images", stream=out, step=0.5)
    >>> for _ in range(4):
    ...     bar.update(3)
    >>> print(out.getvalue().strip())
    images: 6/10 (60%)
    images: 10/10 (100%)
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Count ``total`` items called ``label``; :meth:`update` after each batch."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, step: float = 0.1):
        self.total, self.label, self.done = max(0, int(total)), label, 0
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._step = max(1, round(self.total * step))
        self._next = self._step

    def update(self, n: int) -> None:
        self.done = min(self.total, self.done + n)
        line = f"{self.label}: {self.done}/{self.total} ({100 * self.done // max(1, self.total)}%)"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done >= self.total else ""))
        elif self.done >= self._next or self.done >= self.total:
            self.stream.write(line + "\n")
            while self._next <= self.done:
                self._next += self._step
        self.stream.flush()
