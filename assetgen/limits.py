"""Documented limits on untrusted input: templates, file names and images.

Every limit here is a point where hostile or mistaken input becomes a clear
error instead of a hang, a traceback or gigabytes of memory. They are far
above what a real project needs.
"""

from __future__ import annotations

MAX_RANGE = 10_000
"""``range()`` in a template yields at most this many numbers."""
MAX_LOOP_ITEMS = 200_000
"""All ``range()`` calls of one render together yield at most this many numbers."""
MAX_INT_BITS = 4_096
"""Template arithmetic (``**``, ``*``) may not make integers larger than this (~1233 digits)."""
MAX_RENDER_CHARS = 100_000
"""One render (a prompt, a name, an input path) and any string or list it builds, at most."""
MAX_PROMPT_CHARS = 32_000
"""A prompt after whitespace is collapsed: the Images API's own limit."""
MAX_RENDER_SECONDS = 2.0
"""Wall-clock time one template render may take."""
MAX_FORMAT_WIDTH = 1_000
"""Widths and precisions in template format strings and padding filters, at most."""

MAX_INPUT_PIXELS = 8192 * 8192
"""Input images (bases, masks, references, originals) larger than this are refused
before their pixels are decoded (the Images API's own inputs are far smaller)."""
MAX_VARIANT_SIDE = 16_384
"""A variant's width and height, at most."""
