"""Shared PDF set-up: reportlab's built-in Chinese CID font (no font files) and the
invariant mode that makes the same input give the same bytes."""

from __future__ import annotations

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

FONT = "STSong-Light"  # Adobe-GB1 宋体, built into every PDF reader: nothing is embedded


def register_font() -> str:
    """Register the CID font once (idempotent) and return its name."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def text_width(text: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, register_font(), size)


def fit(text: str, size: float, width: float) -> str:
    """``text`` cut (with …) to fit ``width`` points at ``size``."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"
