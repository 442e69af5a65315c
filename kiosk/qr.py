"""QR codes for passes and tickets, as inline SVG (print sheets) or PNG (tests, downloads)."""
from __future__ import annotations

import functools
import html
import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M

BORDER = 2  # modules of quiet zone; the printed card around it adds more
# A fixed mask pattern: choosing the "best" of eight takes 80% of the time of a code, and
# every pattern decodes (tests/test_qr.py reads passes back with zbarimg).
MASK_PATTERN = 2


def _qr(data: str, box_size: int = 10) -> qrcode.QRCode:
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, border=BORDER, box_size=box_size, mask_pattern=MASK_PATTERN
    )
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_svg(data: str, label: str = "") -> str:
    """An <svg> element that scales to its box (viewBox only).

    Built from the module matrix with one path segment per run of dark modules: about five
    times faster than qrcode's SVG factory, which draws every module on its own, and that
    matters when an organiser prints passes for a thousand donors."""
    matrix = _qr(data).get_matrix()  # includes the border
    size = len(matrix)
    segments = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                segments.append(f"M{start} {y}h{x - start}v1h{start - x}z")
            else:
                x += 1
    title = f"<title>{html.escape(label)}</title>" if label else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img">'
        f'{title}<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(segments)}"/></svg>'
    )


def qr_png(data: str, box_size: int = 8) -> bytes:
    buffer = io.BytesIO()
    _qr(data, box_size=box_size).make_image().save(buffer, format="PNG")
    return buffer.getvalue()


@functools.lru_cache(maxsize=64)
def cached_qr_svg(data: str, label: str = "") -> str:
    """`qr_svg` for codes drawn again and again (the display's walk-in codes, on every load):
    the same text and label give the same SVG, so each is drawn once per process."""
    return qr_svg(data, label)
