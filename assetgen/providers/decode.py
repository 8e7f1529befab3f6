"""Proof that an image a provider returned is whole, before anything stores it.

A truncated PNG or base64 of something else would otherwise be stored,
journaled and locked, and then fail every later build. :func:`check_image`
decodes every pixel under Pillow's decompression-bomb limit
(``Image.MAX_IMAGE_PIXELS``, whose warning counts as an error here) and
says in plain words what is wrong.
"""

from __future__ import annotations

import io
import threading
import warnings

from PIL import Image, UnidentifiedImageError

from .openai.inputs import sniff_format

FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
"""Pillow's format names of the files a provider may return, and ours."""

# warnings.catch_warnings swaps process-wide state: one decode at a time
# keeps two threads from restoring each other's filters.
_DECODING = threading.Lock()


class UndecodableImage(ValueError):
    """An answer's image cannot be used; the message says why, in plain words."""


def check_image(data: bytes, label: str = "the image") -> str:
    """Decode ``data`` fully; its format (``png``, ``jpeg`` or ``webp``).

    Raises :class:`UndecodableImage` for bytes that are not a whole image
    of one of those formats, or that would decode to more pixels than
    Pillow allows.
    """
    if not data:
        raise UndecodableImage(f"{label} is empty")
    with _DECODING, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=tuple(FORMATS)) as image:
                image.load()
                kind = str(image.format)
                width, height = image.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UndecodableImage(f"{label} is too large to decode safely: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise UndecodableImage(_unidentified(data, label)) from exc
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            # Pillow reports damage as OSError ("image file is truncated"),
            # SyntaxError (a broken PNG chunk) and ValueError, depending on the plugin.
            raise UndecodableImage(f"{label} is damaged: {exc or type(exc).__name__}") from exc
    if not width or not height:
        raise UndecodableImage(f"{label} has no pixels ({width}x{height})")
    return FORMATS[kind]


def _unidentified(data: bytes, label: str) -> str:
    kind = sniff_format(data)
    if kind is not None:
        return f"{label} is damaged: a {kind.upper()} file cut short or broken ({len(data)} bytes)"
    return f"{label} is not a PNG, JPEG or WebP file ({len(data)} bytes{_start(data)})"


def _start(data: bytes) -> str:
    """A hint of what the bytes are instead (an HTML page, JSON, text)."""
    head = data[:64].lstrip()
    if head[:1] in (b"<", b"{", b"["):
        return ", it looks like HTML or JSON"
    if head and all(32 <= byte < 127 or byte in b"\r\n\t" for byte in head):
        return ", it looks like text"
    return ""
