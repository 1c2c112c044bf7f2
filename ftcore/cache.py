"""Where ftcore keeps what it builds or fetches (test models, genuine pretrained weights).

>>> import os
>>> from unittest import mock
>>> with mock.patch.dict(os.environ, FTCORE_CACHE_DIR="/tmp/ftcore-cache"):  # restored after
...     str(cache_root())
'/tmp/ftcore-cache'
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$FTCORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/ftcore`` (default ``~/.cache/ftcore``)."""
    env = os.environ.get("FTCORE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ftcore"
