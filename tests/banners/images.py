"""Real image headers built from their published byte layouts (JPEG: ITU T.81; WebP: RFC 9649)."""

from __future__ import annotations

import struct

PNG_1200x375 = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 1200, 375, 8, 2, 0, 0, 0)
    + b"\x00\x00\x00\x00"
)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(width: int = 1200, height: int = 375, *, sof: int = 0xC0, padding: int = 0) -> bytes:
    """A baseline (SOF0) or progressive (SOF2) JPEG: JFIF, a comment, a quantization and a
    Huffman table, the frame header, a scan, and `padding` bytes of entropy-coded data."""
    jfif = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    comment = _segment(0xFE, b"partner ad")
    dqt = _segment(0xDB, b"\x00" + bytes(range(1, 65)))
    dht = _segment(0xC4, b"\x00" + bytes([0, 1] + [0] * 14) + b"\x00")
    frame = _segment(sof, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    scan = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + jfif + comment + dqt + dht + frame + scan + b"\x00" * padding + b"\xff\xd9"


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    if len(payload) % 2:
        body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_vp8x(width: int = 1200, height: int = 375) -> bytes:
    """Extended format: the canvas size in the VP8X chunk (24 bits, minus one)."""
    payload = b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little")
    payload += (height - 1).to_bytes(3, "little")
    return _riff(b"VP8X", payload)


def webp_vp8l(width: int = 1200, height: int = 375) -> bytes:
    """Lossless: signature 0x2f, then width-1 and height-1 in 14 bits each."""
    bits = (width - 1) | (height - 1) << 14
    return _riff(b"VP8L", b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8)


def webp_vp8(width: int = 1200, height: int = 375) -> bytes:
    """Lossy: a key frame tag, the start code 9d 01 2a, then 14-bit width and height."""
    tag = b"\x50\x02\x00"
    payload = tag + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 10
    return _riff(b"VP8 ", payload)
