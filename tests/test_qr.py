"""A pass's QR decodes with an independent reader (zbarimg, from Debian's zbar-tools)."""
import re
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Visit
from kiosk.qr import qr_png, qr_svg
from kiosk.tokens import pass_url
from tests.conftest import TEST_BASE_URL


def zbar_decode(path) -> str:
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg is missing: the test command installs Debian's zbar-tools")
    output = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True, check=True)
    return output.stdout.strip()


def test_a_pass_qr_decodes_to_its_url(app, demo, tmp_path):
    with app.app_context():
        token = db.session.scalars(sa.select(Visit.token).limit(1)).one()
    url = pass_url(TEST_BASE_URL, token)
    image = tmp_path / "pass.png"
    image.write_bytes(qr_png(url))
    assert zbar_decode(image) == f"{TEST_BASE_URL}/p/{token}"


def test_the_svg_on_the_sheet_encodes_the_same_url(tmp_path):
    """Rasterise our hand-built SVG path and read it back, so the print sheet is proven too."""
    from PIL import Image, ImageDraw

    url = "http://192.168.1.20:8000/p/" + "A" * 32
    svg = qr_svg(url)
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    scale, quiet = 10, 4
    image = Image.new("L", ((size + 2 * quiet) * scale,) * 2, 255)
    draw = ImageDraw.Draw(image)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)", svg):
        x, y, width = int(x) + quiet, int(y) + quiet, int(width)
        draw.rectangle([x * scale, y * scale, (x + width) * scale - 1, (y + 1) * scale - 1], fill=0)
    path = tmp_path / "sheet-qr.png"
    image.save(path)
    assert zbar_decode(path) == url
