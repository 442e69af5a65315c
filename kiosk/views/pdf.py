"""Our templates as PDF files: `render_pdf("admin/letter.html", stylesheets=(...), **context)` is
all a new printed document needs; pass sheets, being long, are laid out in parts so that their
progress can be shown."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from flask import current_app, render_template, send_file

from kiosk.models import Department, Drive, Site
from kiosk.passes import PASSES_PER_PAGE, PassCard, pages
from kiosk.pdf import MIME_TYPE, html_to_pdf

PASS_SHEET_STYLESHEETS = ("css/passes.css", "css/passes-pdf.css")
# Five A4 pages (40 passes) to a part: the progress bar moves every second or two.
PAGES_PER_PART = 5


def static_text(name: str) -> str:
    return (Path(current_app.static_folder or "") / name).read_text(encoding="utf-8")


def render_pdf(template_name: str, stylesheets: Sequence[str] = (), **context) -> bytes:
    """A template, rendered with `pdf=True` (to leave out its <link>s and buttons), as a PDF.
    `stylesheets` are files of static/ (read here, not fetched)."""
    html = render_template(template_name, pdf=True, **context)
    return html_to_pdf([html], [static_text(name) for name in stylesheets])


def pdf_response(body: bytes, download_name: str):
    return send_file(io.BytesIO(body), mimetype=MIME_TYPE, as_attachment=True, download_name=download_name,
                     max_age=0)


def pass_sheet_parts(count: int) -> int:
    """How many parts a sheet of `count` passes is laid out in: the steps of its progress."""
    return max(1, -(-count // (PASSES_PER_PAGE * PAGES_PER_PART)))


def _pass_sheet_html(drive: Drive, site: Optional[Site], department: Optional[Department],
                     cards: list[PassCard]) -> Iterator[str]:
    sheet_pages = pages(cards)
    for start in range(0, max(1, len(sheet_pages)), PAGES_PER_PART):
        yield render_template("passes/sheet.html", drive=drive, site=site, department=department,
                              pages=sheet_pages[start:start + PAGES_PER_PART], count=len(cards),
                              standalone=False, pdf=True)


def pass_sheet_pdf(drive: Drive, cards: list[PassCard], site: Optional[Site] = None,
                   department: Optional[Department] = None,
                   progress: Optional[Callable[[int], None]] = None) -> bytes:
    """The pass sheet as a PDF; the cards made with qr_image="png"."""
    return html_to_pdf(_pass_sheet_html(drive, site, department, cards),
                       [static_text(name) for name in PASS_SHEET_STYLESHEETS], progress)
