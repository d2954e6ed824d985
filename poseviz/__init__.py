"""poseviz: a visual analysis workbench and model library for monocular 3D human pose
estimation by 2D-to-3D lifting.

Subpackages are imported on demand (``import poseviz.metrics``) so that a training box needs
no UI stack; see DESIGN.md for the layering.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("poseviz")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
