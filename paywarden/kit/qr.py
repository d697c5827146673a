"""QR codes: inline SVG for pages (no image request, nothing for a CSP to allow); PNG
for the bot, which sends an image."""

from __future__ import annotations

import io

import segno
from markupsafe import Markup


def qr_svg(data: str, *, title: str = "QR code of the deposit address") -> Markup:
    """`data` (a deposit address) as an inline `<svg class="qr-code">`."""
    qr = segno.make(data, micro=False, error="m")
    svg = qr.svg_inline(
        scale=1,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass="qr-code",
        lineclass=None,
        title=title,
    )
    return Markup(svg)  # noqa: S704 - segno's own SVG (it escapes the title), no user markup


def qr_png(data: str, *, scale: int = 8) -> bytes:
    """`data` as a PNG (segno writes PNG itself): for the bot, which sends an image."""
    out = io.BytesIO()
    segno.make(data, micro=False, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
