"""Moved to :mod:`ftcore.sidecar` (below both export and predict). This alias stays only until
``ftcore/app/cli.py`` and ``ftcore/pretrained/convert_mobilenet_v1.py`` import from there.

    >>> from ftcore.export.sidecar import read_sidecar
    >>> read_sidecar.__module__
    'ftcore.sidecar'
"""

from ftcore.sidecar import Sidecar, TensorInfo, read_sidecar, sidecar_path, write_export

__all__ = ["Sidecar", "TensorInfo", "read_sidecar", "sidecar_path", "write_export"]
