"""Reading the format and pixel size from an image's own bytes."""

from __future__ import annotations

import pytest

from paywarden.banners.errors import InvalidImage
from paywarden.banners.images import JPEG, WEBP, ImageInfo, inspect
from paywarden.banners.service import advice
from tests.banners.images import PNG_1200x375, jpeg, webp_vp8, webp_vp8l, webp_vp8x


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (jpeg(1200, 375), ImageInfo(JPEG, 1200, 375)),
        (jpeg(640, 480, sof=0xC2), ImageInfo(JPEG, 640, 480)),  # progressive
        (jpeg(65535, 1), ImageInfo(JPEG, 65535, 1)),
        (webp_vp8x(1200, 375), ImageInfo(WEBP, 1200, 375)),
        (webp_vp8x(16_777_216, 1), ImageInfo(WEBP, 16_777_216, 1)),  # 24-bit canvas maximum
        (webp_vp8l(1600, 500), ImageInfo(WEBP, 1600, 500)),
        (webp_vp8l(16384, 16384), ImageInfo(WEBP, 16384, 16384)),  # 14-bit maximum
        (webp_vp8(1200, 375), ImageInfo(WEBP, 1200, 375)),
    ],
)
def test_reads_format_and_size(data: bytes, expected: ImageInfo) -> None:
    assert inspect(data) == expected


def test_fill_bytes_and_restart_markers_before_the_frame_are_skipped() -> None:
    data = jpeg(800, 250)
    padded = data[:2] + b"\xff\xff\xff\xd0" + data[2:]  # fill bytes, then a standalone marker
    assert inspect(padded) == ImageInfo(JPEG, 800, 250)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        PNG_1200x375,
        b"GIF89a\x01\x00\x01\x00",
        b"hello, this is a text file\n",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF but not WebP
    ],
)
def test_other_formats_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidImage, match="Only WebP or JPEG"):
        inspect(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff",  # SOI and nothing else
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # a segment longer than the file
        jpeg()[:60],  # cut before the frame header
        jpeg(0, 375),  # zero width
        jpeg(1200, 0),  # height left to a DNL segment: not supported
        b"\xff\xd8" + b"\xff\xda\x00\x08" + b"\x00" * 6,  # a scan before any frame header
        b"\xff\xd8\xff\xe0\x00\x04\x00\x00\x12\x34",  # not a marker where one must be
        b"RIFF\x04\x00\x00\x00WEBP",  # no chunk
        b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00\x00\x00\x00\x00",  # no start code
        b"RIFF\x10\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x00\x00\x00\x00\x00",  # bad signature
        b"RIFF\x10\x00\x00\x00WEBPALPH\x04\x00\x00\x00\x00\x00\x00\x00",  # unknown first chunk
        webp_vp8x()[:25],  # VP8X cut short
    ],
)
def test_unreadable_headers_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidImage, match="could not be read"):
        inspect(data)


def test_advice_on_weight_and_shape() -> None:
    assert advice(400 * 1024, 1200, 375) == []
    assert [a.code for a in advice(400 * 1024 + 1, 1200, 375)] == ["IMAGE_HEAVY"]
    # within 5% of 16:5 either way is fine; past it is not
    assert advice(1000, 1200, 390) == []  # 3.08, 3.9% off
    assert advice(1000, 1240, 375) == []  # 3.31, 3.3% off
    assert [a.code for a in advice(1000, 1200, 400)] == ["ASPECT_RATIO"]  # 3.0, 6.25% off
    assert [a.code for a in advice(1000, 1300, 375)] == ["ASPECT_RATIO"]  # 3.47, 8.3% off
    both = advice(500 * 1024, 1000, 1000)
    assert [a.code for a in both] == ["IMAGE_HEAVY", "ASPECT_RATIO"]
    assert "1000 x 1000" in both[1].message
    assert "1200 x 375" in both[1].message
