"""QR codes of the citizen lookup URL, as inline SVG (no files, no network)."""

from __future__ import annotations

import io

import segno


def qr_svg(text: str, scale: int = 3) -> str:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=scale, xmldecl=False, svgns=True, border=2)
    return out.getvalue().decode("utf-8")
