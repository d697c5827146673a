"""QR codes as inline SVG: no image request, nothing for a page's CSP to allow."""

from __future__ import annotations

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
