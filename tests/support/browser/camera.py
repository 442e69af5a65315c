"""A camera that shows a picture: a QR code as the Y4M video Chromium's fake camera plays, and a
page in a Chromium of its own that sees it."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS


def y4m_of(png: bytes, path: Path, size=(640, 480)) -> None:
    """A still image as a Y4M video, which Chromium's fake camera plays in a loop."""
    import io

    qr = Image.open(io.BytesIO(png)).convert("L")
    frame = Image.new("L", size, 255)
    side = min(size) - 60
    frame.paste(qr.resize((side, side), Image.NEAREST), ((size[0] - side) // 2, (size[1] - side) // 2))
    ycbcr = Image.merge("RGB", [frame] * 3).convert("YCbCr")
    y, cb, cr = ycbcr.split()
    half = (size[0] // 2, size[1] // 2)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(2):
            fh.write(b"FRAME\n" + y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes())


@contextmanager
def page_whose_camera_shows(playwright_instance, page_problems, video: Path, viewport: dict):
    """A page in a Chromium of its own whose camera plays `video` (allowed to use it), closed after."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-video-capture={video}"])
    try:
        context = browser.new_context(viewport=viewport, locale="vi-VN", permissions=["camera"])
        yield page_problems.watch(context.new_page())
    finally:
        browser.close()
