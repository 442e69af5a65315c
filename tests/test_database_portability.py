"""Input that SQLite takes and PostgreSQL refuses gets the same answer on both (this file runs
in both passes of tools/test.sh): a NUL character anywhere, and text longer than its column."""
from __future__ import annotations

import re

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Donor

HX = {"HX-Request": "true"}


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_a_nul_in_a_search_is_dropped_not_a_server_error(client, auth, demo, app):
    auth.as_organiser()
    with app.app_context():
        donor = db.session.scalars(sa.select(Donor).order_by(Donor.id)).first()
    query = donor.id_number[:4] + "\x00" + donor.id_number[4:8]
    response = client.post("/admin/donors", data={"csrf_token": csrf_token(client, "/admin/donors"), "q": query},
                           headers=HX)
    assert response.status_code == 200
    assert donor.full_name in response.get_data(as_text=True)


def test_a_nul_in_a_query_string_is_dropped(client, demo):
    response = client.get("/display/data?drive=1\x00&rev=0")
    assert response.status_code in (200, 204)


def test_a_nul_in_a_path_is_no_page(client, demo):
    response = client.get("/kiosk/XN%00C")
    assert response.status_code == 404


def test_a_walk_in_name_longer_than_its_column_gets_a_message(client, demo):
    # SQLite would store 200 characters in a VARCHAR(120); PostgreSQL would refuse them with a 500.
    csrf = csrf_token(client, "/kiosk/XNC")
    response = client.post("/kiosk/XNC/walk-in", headers=HX | {"X-CSRFToken": csrf}, data={
        "full_name": "Nguyễn " * 30, "date_of_birth": "01/01/1990", "sex": "M", "id_number": "079090001234",
        "phone": "0912345678", "nonce": "walk-in-nonce-0001"})
    assert response.status_code == 422
    with app_context(client):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor).where(
            Donor.id_number == "079090001234")) == 0


def app_context(client):
    return client.application.app_context()
