"""QR codes for the public nozzle page (检情公开): the URL a customer scans at the pump,
as SVG or PNG (segno), and a printable A4 sheet of labels for a station's nozzles (its
words the catalog's ``qr_sheet`` table: Chinese, the labels being for the station's
customers, English on request).

The codes are ordinary QR codes (never Micro QR, which phones do not read), error
correction level M at least (segno raises it when that costs no size).
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from anxin.i18n.po import table
from anxin.register.fonts import fit, register_font

BORDER = 4  # quiet zone, modules (the QR standard's minimum)
COLS, ROWS = 3, 4  # labels per sheet


def public_url(base_url: str, nozzle_id: str) -> str:
    """``{base}/p/{nozzle_id}`` (the id percent-encoded)."""
    return f"{base_url.rstrip('/')}/p/{quote(nozzle_id, safe='')}"


def make_qr(url: str) -> segno.QRCode:
    return segno.make_qr(url, error="m")


def qr_svg(url: str, *, scale: int = 4) -> str:
    """A standalone SVG (no XML declaration, so it can also be inlined in HTML)."""
    buf = io.BytesIO()
    make_qr(url).save(buf, kind="svg", scale=scale, border=BORDER, xmldecl=False, svgclass="qr", lineclass=None)
    return buf.getvalue().decode()


def qr_png(url: str, *, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    make_qr(url).save(buf, kind="png", scale=scale, border=BORDER)
    return buf.getvalue()


def _draw_qr(c: canvas.Canvas, qr: segno.QRCode, x: float, y: float, size: float) -> None:
    """The symbol (quiet zone included) in the square of side ``size`` whose lower left is (x, y)."""
    rows = [list(r) for r in qr.matrix]
    n = len(rows) + 2 * BORDER
    m = size / n
    for i, row in enumerate(rows):
        top = y + size - (i + BORDER + 1) * m
        j = 0
        while j < len(row):
            if row[j]:
                k = j
                while k < len(row) and row[k]:
                    k += 1
                c.rect(x + (j + BORDER) * m, top, (k - j) * m, m, stroke=0, fill=1)
                j = k
            else:
                j += 1


def qr_sheet_pdf(items: list[tuple[str, str, str]], *, title: str | None = None, lang: str = "zh") -> bytes:
    """An A4 sheet (as many pages as needed) of labels ``(nozzle_id, station_name, url)``:
    the QR code, the nozzle id and the station's name, with cutting lines; its words in
    ``lang`` ("zh", the default, or "en")."""
    words = {k: v[1 if lang == "en" else 0] for k, v in table("qr_sheet").items()}
    font = register_font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    names = {name for _, name, _ in items}
    heading = title or (words["title_station"].format(station=next(iter(names))) if len(names) == 1 else words["title"])
    c.setTitle(heading)
    c.setAuthor("anxin")
    c.setCreator("anxin")
    page_w, page_h = A4
    margin = 15 * mm
    top = page_h - margin - 10 * mm
    cell_w, cell_h = (page_w - 2 * margin) / COLS, (top - margin) / ROWS
    per_page = COLS * ROWS
    for start in range(0, max(len(items), 1), per_page):
        c.setFont(font, 12)
        c.drawString(margin, page_h - margin - 4 * mm, fit(heading, 12, page_w - 2 * margin))
        for k, (nozzle_id, station_name, url) in enumerate(items[start : start + per_page]):
            col, row = k % COLS, k // COLS
            x0, y0 = margin + col * cell_w, top - (row + 1) * cell_h
            c.setDash(3, 3)
            c.setLineWidth(0.3)
            c.rect(x0, y0, cell_w, cell_h, stroke=1, fill=0)
            c.setDash()
            size = min(cell_w - 6 * mm, cell_h - 24 * mm)
            _draw_qr(c, make_qr(url), x0 + (cell_w - size) / 2, y0 + cell_h - size - 2 * mm, size)
            cx, w = x0 + cell_w / 2, cell_w - 6 * mm
            c.setFont(font, 11)
            c.drawCentredString(cx, y0 + 15 * mm, fit(nozzle_id, 11, w))
            c.setFont(font, 9)
            c.drawCentredString(cx, y0 + 9.5 * mm, fit(station_name, 9, w))
            c.setFont(font, 7.5)
            c.drawCentredString(cx, y0 + 4.5 * mm, fit(words["caption"], 7.5, w))
        c.showPage()
    c.save()
    return buf.getvalue()
