"""PDF files from our own HTML, with WeasyPrint (Pango draws the text; the fonts are Debian's
fonts-noto-core and fonts-dejavu-core, which the stylesheets name, both with Vietnamese).

Given the HTML in parts, each part is laid out on its own and the pages are joined into one
file, so a caller can tell how far a long build has come. Nothing is fetched: images are data:
URIs and stylesheets are passed as text, so a name in a roster can never make the server open
a URL or a file."""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

MIME_TYPE = "application/pdf"


def _no_fetching():
    from weasyprint import URLFetcher

    return URLFetcher(allowed_protocols=("data",))


def html_to_pdf(parts: Iterable[str], stylesheets: Sequence[str] = (),
                progress: Optional[Callable[[int], None]] = None) -> bytes:
    """One PDF from the parts' pages, in order; `progress(1)` after each part is laid out."""
    import weasyprint  # imported when first needed: it takes a second, which `kiosk serve` need not wait for

    fetcher = _no_fetching()
    css = [weasyprint.CSS(string=text, url_fetcher=fetcher) for text in stylesheets]
    documents = []
    for part in parts:
        documents.append(weasyprint.HTML(string=part, url_fetcher=fetcher).render(stylesheets=css))
        if progress is not None:
            progress(1)
    if not documents:
        raise ValueError("no HTML to print")
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf()
