"""What an uploaded banner image is, read from its own bytes: the format by its magic number, the
pixel size from its header (JPEG SOFn segment; WebP VP8, VP8L or VP8X chunk).

The declared content type and the file name are never trusted: the browser shows what the bytes
are. No imaging library is needed for this, and none decodes untrusted pixels here.
"""

from __future__ import annotations

from dataclasses import dataclass

from paywarden.banners.errors import InvalidImage

JPEG = "image/jpeg"
WEBP = "image/webp"

# SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_SOS, _EOI = 0xDA, 0xD9


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def inspect(data: bytes) -> ImageInfo:
    """The format and pixel size of `data`; InvalidImage unless it is a readable JPEG or WebP."""
    if data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg_size(data)
        kind = JPEG
    elif len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        width, height = _webp_size(data)
        kind = WEBP
    else:
        raise InvalidImage("Only WebP or JPEG images are accepted (judged by the file's content)")
    if width <= 0 or height <= 0:
        raise _unreadable(kind)
    return ImageInfo(kind, width, height)


def _unreadable(kind: str) -> InvalidImage:
    name = "JPEG" if kind == JPEG else "WebP"
    return InvalidImage(f"The {name} header could not be read: the file is damaged or truncated")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2  # after SOI
    while pos < len(data):
        if data[pos] != 0xFF:
            raise _unreadable(JPEG)
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes may pad a marker
            pos += 1
        if pos >= len(data):
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (_SOS, _EOI) or pos + 2 > len(data):
            break  # the frame header always comes before the scan
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > len(data):
            break
        if marker in _SOF:
            if length < 8:
                break
            # precision (1), height (2), width (2); a height of 0 (set later by DNL) is refused
            height = int.from_bytes(data[pos + 3 : pos + 5], "big")
            width = int.from_bytes(data[pos + 5 : pos + 7], "big")
            return width, height
        pos += length
    raise _unreadable(JPEG)


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        # lossy: a 3-byte frame tag, the start code, then 14-bit width and height (2 scale bits)
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        # lossless: the signature, then width-1 and height-1 in 14 bits each
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(body) >= 10:
        # extended: flags (1), reserved (3), canvas width-1 and height-1 in 24 bits each
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return width, height
    raise _unreadable(WEBP)
