"""The hall display: its hero number and layout as drawn, and donations for it to show."""
from __future__ import annotations

from kiosk.extensions import db
from tests.support.donations import ready_visits, record


def hero(page) -> str:
    return page.locator(".hero-number").inner_text()


def layout(page) -> dict:
    """The page's scroll size against the window, and the hero digits' drawn height."""
    return page.evaluate("""() => {
        const hero = document.querySelector('.hero-number');
        const style = getComputedStyle(hero);
        const context = document.createElement('canvas').getContext('2d');
        context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const digits = context.measureText('0123456789');
        return {scrollHeight: document.documentElement.scrollHeight, scrollWidth: document.documentElement.scrollWidth,
                innerHeight: innerHeight, innerWidth: innerWidth,
                digitHeight: digits.actualBoundingBoxAscent + digits.actualBoundingBoxDescent};
    }""")


def donate(app, count: int = 1, site_code: str | None = None, start: int = 0, volume: int = 350) -> list[int]:
    with app.app_context():
        visits = ready_visits(db.session, count, site_code=site_code)
        donations = [record(db.session, visit_id, f"B-{start + n:04d}", volume=volume)["donation_id"]
                     for n, visit_id in enumerate(visits)]
        db.session.remove()
    return donations
