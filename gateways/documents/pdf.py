"""HTML forms laid out to PDF by WeasyPrint (pango and Debian's DejaVu fonts underneath)."""

from __future__ import annotations

import logging


def to_pdf(html: str) -> bytes:
    import weasyprint  # imported on first print: it loads pango

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # subsetting chatter
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
