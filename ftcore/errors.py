"""Errors ftcore raises for user mistakes, and the close-match helper they share.

Every user-facing mistake (a missing file, an unknown name, a file of the wrong
kind) raises a subclass of :class:`FtcoreError` whose message says what was wrong,
which file or name, and what was expected. The CLI prints these as one line.

    >>> unknown_name("layer", "conv_dw_6_rel", ["conv_dw_6_relu", "conv_dw_7_relu", "pool"])
    UnknownNameError("unknown layer 'conv_dw_6_rel'; closest: 'conv_dw_6_relu', 'conv_dw_7_relu'")
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FtcoreError(Exception):
    """Base class of the errors ftcore raises for bad input."""


class UnknownNameError(FtcoreError, KeyError):
    """A layer, tensor, node or variable name that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class MissingFileError(FtcoreError, FileNotFoundError):
    """A file or directory that was expected but is not there."""


class InvalidFileError(FtcoreError, ValueError):
    """A file that exists but does not hold what was expected (truncated, wrong format...)."""


class UnsafeContentError(FtcoreError):
    """A model file whose loading could touch the file system or run code (refused unless trusted)."""


class UnsafeGraphError(UnsafeContentError):
    """A GraphDef that contains ops able to touch the file system or run code."""


class EmptyDataError(FtcoreError, ValueError):
    """A training or validation set with no examples."""


class MismatchError(FtcoreError, ValueError):
    """Shapes, dtypes or outputs that do not agree with what was expected."""


class StaleCompileError(MismatchError):
    """A Keras model's trainable variables differ from those it was compiled with."""


def first_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message, else its type name (for one-line
    errors: TensorFlow's messages carry whole stacks).

    >>> first_line(ValueError("bad header\\n  at byte 12"))
    'bad header'
    """
    text = (getattr(e, "message", None) or str(e)).strip()
    return text.splitlines()[0] if text else type(e).__name__


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates closest to ``name`` (difflib ratio >= 0.5).

    >>> close_matches("MobilenetV2/expanded_conv_14/ouput", ["MobilenetV2/expanded_conv_14/output", "x"])
    ['MobilenetV2/expanded_conv_14/output']
    """
    candidates = list(dict.fromkeys(candidates))
    matches = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not matches:  # long scoped names: also try by the last path component
        tail = name.rsplit("/", 1)[-1]
        matches = [c for c in candidates if c.rsplit("/", 1)[-1] == tail][:n]
    return matches


def unknown_name(
    kind: str, name: str, candidates: Iterable[str], where: str = ""
) -> UnknownNameError:
    """Build an :class:`UnknownNameError` naming ``kind``, ``name`` and the closest candidates."""
    candidates = list(candidates)
    msg = f"unknown {kind} {name!r}"
    if where:
        msg += f" in {where}"
    matches = close_matches(name, candidates)
    if matches:
        msg += "; closest: " + ", ".join(repr(m) for m in matches)
    elif candidates:
        shown = ", ".join(repr(c) for c in candidates[:5])
        more = f" (and {len(candidates) - 5} more)" if len(candidates) > 5 else ""
        msg += f"; available: {shown}{more}"
    else:
        msg += f"; there are no {kind}s to choose from"
    return UnknownNameError(msg)
