"""Progress of the loop's long steps (feature extraction, every epoch of every stage, cached
epochs too) on ``sys.stderr`` (stdout stays for results): redrawn in place on a terminal, one
line per update otherwise, so CI logs stay readable. No dependency: Keras' ``Progbar`` prints
nothing until the end when its output is not a terminal, which is the case to serve here.

    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progress("features train", total=4, stream=out)
    >>> for n in range(1, 5):
    ...     bar.update(n)
    >>> print(out.getvalue(), end="")
    features train: 1/4 batches
    features train: 2/4 batches
    features train: 3/4 batches
    features train: 4/4 batches
"""

from __future__ import annotations

import sys
import time

import keras


class Progress:
    """One progress display of ``total`` units (None: unknown), updated every ``every``
    units (and at the end) when not on a terminal."""

    def __init__(self, label: str, total: int | None, stream=None, unit="batches", every=1):
        self.label, self.total, self.unit, self.every = label, total, unit, max(1, every)
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.start = time.monotonic()

    def update(self, done: int, text: str = "") -> None:
        last = self.total is not None and done >= self.total
        if not self.tty and done % self.every and not last:
            return
        of = f"/{self.total}" if self.total is not None else ""
        line = f"{self.label}: {done}{of} {self.unit}{text}"
        if self.tty:
            line = f"\r{line} ({time.monotonic() - self.start:.0f}s)" + ("\n" if last else "")
        else:
            line += "\n"
        self.stream.write(line)
        self.stream.flush()


def batch_count(n: int | None, batch_size: int) -> int | None:
    """Batches of ``n`` examples (None: unknown)."""
    return None if n is None or n < 0 else -(-n // batch_size)


class EpochProgress(keras.callbacks.Callback):
    """One line per epoch: stage, epoch of epochs, cached or not, the epoch's logs."""

    def __init__(self, label: str, epochs: int, stream=None):
        super().__init__()
        self.bar = Progress(label, epochs, stream, unit="epochs")

    def on_epoch_end(self, epoch, logs=None):
        shown = " ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items())
        self.bar.update(epoch + 1, f": {shown}" if shown else "")
