"""assetgen: build a site's image assets from a declarative spec."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
