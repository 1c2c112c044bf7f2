"""Exports: verified, optimized frozen graphs (``.pb``) with a JSON sidecar.

>>> from ftcore.export import export_checkpoint, export_keras, read_sidecar
"""

from ftcore.export.pb import export_checkpoint, export_keras, export_session
from ftcore.sidecar import Sidecar, read_sidecar

__all__ = ["Sidecar", "export_checkpoint", "export_keras", "export_session", "read_sidecar"]
