"""Bad input, every form and endpoint (Issue 7, point 4): hypothesis sends random and hostile
values (huge, negative, empty, NUL, emoji, right-to-left text, markup and script, SQL, bodies of
10 and 20 MB) to every route in app.url_map, with every method it takes, so a new route is
fuzzed without anyone adding it here. Each request carries a valid CSRF token and comes from the
route's own role, and again from the wrong one.

What must hold, for every answer:
- the status is below 500;
- "a message in the user's language": an answer with a body of text (HTML, or the plain-text
  fallback of the error page) says something in Vietnamese, the default language, which we take
  to mean: once every value we sent is removed from it (an echoed value proves nothing), the body
  still contains at least one letter that only Vietnamese writes (ă, â, đ, ê, ô, ơ, ư, or a vowel
  with a dot below or a hook above: ạ ả ặ ẹ ẻ ị ỉ ọ ỏ ụ ủ ỵ ỷ ...), and, when the status is an error
  (4xx), none of the error page's English messages (a missing translation would show one).
  A redirect stays on this site. JSON, files and empty answers (204) carry no sentence to check.

The fields sent are the real names of the forms a view uses (found from the view's code), the
fields every step shares (nonce, ks, step, action, expected_version, the questionnaire's items)
and junk names."""
from __future__ import annotations

import html
import re
import tempfile
import urllib.parse
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter
from wtforms.fields.core import UnboundField

from kiosk.access import Access, rule_for_endpoint
from kiosk.extensions import db
from tests.conftest import NURSE_PASSWORD, ORGANISER_PASSWORD, make_app, make_app_on_copy
from tests.support.postgres import ON_POSTGRES, POSTGRES

# Every field of every form and every page, with hostile input: minutes, so out of the quick loop.
pytestmark = pytest.mark.slow

VIETNAMESE_ONLY = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
VIETNAMESE_ONLY |= {letter.upper() for letter in VIETNAMESE_ONLY}
ENGLISH_ERRORS = ("The request could not be understood.", "Please sign in to continue.",
                  "You do not have access to this page.", "This page does not exist.",
                  "This action is not allowed here.", "The file or form is too large.",
                  "Too many attempts. Please wait a moment and try again.", "Something went wrong",
                  "This page has expired. Please reload it and try again.")
HOSTILE = [
    "", " ", "0", "-1", "-350", "350", "999999999999999999999999", "-99999999999999999999", "1e308", "NaN",
    "inf", "36,8", "4000", "\x00", "a\x00b", "\x00" * 50, "😀" * 40, "👨‍👩‍👧‍👦🩸", "\u202eالعربية\u202c",
    "שָׁלוֹם", "‮ltr‬", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
    "{{7*7}}{% raw %}", "' OR 1=1 --", "'; DROP TABLE visit; --", "../../../../etc/passwd", "%00%2e%2e%2f",
    "Nguyễn Văn Hùng", "31/02/2024", "01/01/0001", "99/99/9999", "2024-13-45", "accepted", "deferred_permanent",
    "completed", "incomplete", "none", "other", "yes", "no", "next", "back", "XNC", "CSCD", "planned", "closed",
    "open", "nurse", "organiser", "x" * 5000, "9" * 500, "\r\n\r\nSet-Cookie: x=1", "\ud7ff\ue000\uffff",
]
# Issue 12's findings (items 6 and 9) and issue 13's dates: full-width digits, NFD text, bidi
# controls and zero-width characters, dates a year 9999 or with junk after them, 8-digit dates, and
# fields longer than 131,072 characters (Python's csv module refuses a field past that).
ISSUE_12_INPUTS = [
    "００１１９５００９９９９", "０９１２３４５６７８", "٠٠١١٩٥٠٠٩٩٩٩", "tra\u0302\u0300n thi\u0323 ngo\u0323c a\u0301nh",
    "Cu\u0323c Qua\u0309n ly\u0301 xua\u0302\u0301t nha\u0323\u0302p ca\u0309nh", "\u202eĐinh\u200b Thị\u2066 Mai\u2069",
    "\u200b\u200c\u200d\ufeff", "31/12/9999", "9999-12-31", "31129999", "05091990", "1990-01-02Tjunk", "０５０９１９９０",
    "x" * 131_073, "9" * 131_073,
]
HOSTILE += ISSUE_12_INPUTS
SHARED_FIELDS = ["nonce", "ks", "step", "action", "expected_version", "next", "lang", "pass_code", "query", "q1", "q5",
                 "q10", "q12", "q4.vaccine", "q4.vaccine#detail", "q9.pregnancy_ended#date", "consent", "drive",
                 "site", "department", "rev"]
JUNK_FIELDS = ["", "__proto__", "a" * 300, "😀", "csrf_token[]", "id", "<b>"]
# Each client has an address of its own: Flask-Login's "strong" session protection ties a
# sign-in to its address, and the fuzz's failed sign-ins and unknown codes, which are
# rate-limited per address, must not throttle the next test's clients.
ADDRESSES = (f"10.0.{n // 250}.{n % 250 + 1}" for n in range(60_000))


def _all_forms() -> list[type]:
    found, queue = [], list(FlaskForm.__subclasses__())
    while queue:
        form = queue.pop()
        found.append(form)
        queue.extend(form.__subclasses__())
    return found


def _names_in_code(code) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _names_in_code(constant)
    return names


def form_fields_of(view) -> list[str]:
    """The field names of the forms a view function (and the functions inside it) names."""
    names = _names_in_code(view.__code__)
    fields: list[str] = []
    for form in _all_forms():
        if form.__name__ in names:
            fields += [name for name in dir(form) if isinstance(getattr(form, name, None), UnboundField)]
    return sorted(set(fields) - {"csrf_token"})


def _routes() -> list[tuple[str, str]]:
    app = make_app(Path(tempfile.mkdtemp(prefix="fuzz-routes-")), SQLALCHEMY_DATABASE_URI="sqlite://")
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method))
    return routes


ROUTES = _routes()


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, migrated_template):
    """One drive for the whole module (the demo, a donor checked in, accepted and donated), plus
    records that POSTs may change at will (a planned drive, a site, a department, a staff account)
    so that the fuzz never closes the open drive or disables the accounts it signs in with."""
    from kiosk.screening import decisions as screenings
    from kiosk.auth import hash_password
    from kiosk.roster.demo import load_demo
    from kiosk.donations import record_donation
    from kiosk.formatting import local_today
    from kiosk.models import Department, Drive, DriveStatus, Screening, Site, Staff, StaffRole, Visit
    from kiosk.screening.questionnaire import load_questionnaire
    from kiosk.screening.rules import load_rules
    from tests.support.donors import check_in, nonce, pick_donor

    directory = tmp_path_factory.mktemp("fuzz")
    app = make_app_on_copy(migrated_template, directory, WTF_CSRF_ENABLED=True)
    database = POSTGRES.made_during_test.pop() if ON_POSTGRES else None  # kept for the module, dropped below
    with app.app_context():
        load_demo(db.session, app.instance_path, local_today())
        for staff in db.session.scalars(sa.select(Staff)):
            staff.password_hash = hash_password(NURSE_PASSWORD if staff.role == StaffRole.NURSE else ORGANISER_PASSWORD)
        spare_staff = Staff(username="duphong", display_name="Dự phòng", role=StaffRole.NURSE,
                            password_hash=hash_password(NURSE_PASSWORD))
        spare_site = Site(code="DUPHONG", name="Điểm dự phòng")
        spare_department = Department(name="Phòng dự phòng")
        spare_drive = Drive(name="Đợt dự phòng", drive_date=local_today().replace(year=local_today().year + 1),
                            status=DriveStatus.PLANNED, target_bags=10)
        db.session.add_all([spare_staff, spare_site, spare_department, spare_drive])
        db.session.commit()
        drive_id = db.session.scalar(sa.select(Drive.id).where(Drive.status == DriveStatus.OPEN))
        ids = {"spare_staff": spare_staff.id, "spare_site": spare_site.id, "spare_department": spare_department.id,
               "spare_drive": spare_drive.id, "drive": drive_id}
    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    with app.app_context():
        nurse_id = db.session.scalar(sa.select(Staff.id).where(Staff.username == "yta"))
        visit = db.session.get(Visit, visit_id)
        screenings.record_decision(db.session, visit_id=visit_id, nurse_id=nurse_id, expected_version=visit.version,
                                   vitals=None, decision="accepted", volume_ml=350, deferral_until=None, reason="",
                                   override_reason="thử nghiệm", rules=load_rules(),
                                   questionnaire=load_questionnaire(), nonce=nonce(), identity_document="cccd",
                                   checks_reason="thử nghiệm")
        donation = record_donation(db.session, visit_id=visit_id, nurse_id=nurse_id, volume_ml=350,
                                   bag_number="FUZZ-1", outcome="completed", nonce=nonce())
        ids |= {"visit": visit_id, "donation": donation["donation_id"], "donor": visit.donor_id,
                "screening": db.session.scalar(sa.select(Screening.id).where(Screening.visit_id == visit_id)),
                "token": visit.token}
    yield {"app": app, "ids": ids}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if database:
        POSTGRES.drop(database)


def signed_in_client(app, role: Access):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = next(ADDRESSES)
    if role in (Access.NURSE, Access.ORGANISER):
        page = client.get("/auth/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        username, password = ("yta", NURSE_PASSWORD) if role == Access.NURSE else ("bantochuc", ORGANISER_PASSWORD)
        response = client.post("/auth/sign-in", data={"username": username, "password": password, "csrf_token": token})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def csrf_token_of(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


WRONG_ROLE = {Access.NURSE: Access.ORGANISER, Access.ORGANISER: Access.NURSE, Access.PUBLIC: Access.NURSE,
              Access.KIOSK: Access.ORGANISER}


def path_values(rule, method: str, ids: dict) -> st.SearchStrategy:
    """Values for the route's URL arguments: real records (the ones a POST may change, for POSTs)
    and hostile ones (0, huge, unknown)."""
    hostile_ints = [0, 7, 2**31, 2**63 - 1, 2**63, 10**30]
    changeable = method != "GET"
    real = {"visit_id": [ids["visit"]], "screening_id": [ids["screening"]], "donation_id": [ids["donation"]],
            "donor_id": [ids["donor"]], "staff_id": [ids["spare_staff"]],
            "site_id": [ids["spare_site"]] if changeable else [ids["spare_site"], 1],
            "department_id": [ids["spare_department"]] if changeable else [ids["spare_department"], 1],
            "drive_id": [ids["spare_drive"]] if changeable and rule.endpoint in ("admin.drive_edit",)
            else [ids["drive"], ids["spare_drive"]]}
    strategies = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            strategies[name] = st.sampled_from(real.get(name, [1]) * 3 + hostile_ints)
        elif name == "code":
            strategies[name] = st.sampled_from(["XNC", "XNC", "CSCD", "DUPHONG", "nope", "x" * 300, "%00", "😀"])
        elif name == "token":
            strategies[name] = st.sampled_from([ids["token"], "x" * 32, "A" * 500, "😀", "..", "%00"])
        elif name == "kind":
            strategies[name] = st.sampled_from(["visits", "screenings", "donations", "health", "nope", "😀"])
        elif name == "fmt":
            strategies[name] = st.sampled_from(["xlsx", "csv", "pdf", "😀"])
        else:
            strategies[name] = st.one_of(st.sampled_from(HOSTILE[:30]).filter(bool), st.text(min_size=1, max_size=20))
    return st.fixed_dictionaries(strategies)


values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60), st.integers().map(str))


def check_answer(response, sent: list[str], what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what}: {status}\n{response.get_data(as_text=True)[:3000]}"
    if status in (301, 302, 303, 307, 308):
        target = urllib.parse.urlsplit(response.headers["Location"])
        assert target.netloc in ("", "localhost"), f"{what}: redirects off-site to {response.headers['Location']}"
        return
    mimetype = response.mimetype or ""
    if status == 204 or not mimetype.startswith("text/") or mimetype == "text/csv":
        return
    text = response.get_data(as_text=True)
    for value in sorted(sent, key=len, reverse=True):
        if value:
            for form in {value, html.escape(value), html.escape(value, quote=False),
                         urllib.parse.quote(value), urllib.parse.quote_plus(value)}:
                text = text.replace(form, "")
    assert VIETNAMESE_ONLY & set(text), f"{what}: {status}, no Vietnamese in the answer:\n{text[:1500]}"
    if status >= 400:
        shown = [message for message in ENGLISH_ERRORS if message in text]
        assert not shown, f"{what}: {status} in English: {shown}"


@pytest.mark.parametrize("endpoint,method", ROUTES, ids=[f"{m} {e}" for e, m in ROUTES])
def test_no_input_makes_a_500_or_an_answer_not_in_vietnamese(fuzz, endpoint, method):
    app, ids = fuzz["app"], fuzz["ids"]
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and method in r.methods)
    required = rule_for_endpoint(app, endpoint)
    own_fields = form_fields_of(app.view_functions[endpoint])
    field_names = st.sampled_from(own_fields) if own_fields else st.nothing()
    names = st.one_of(field_names, field_names, st.sampled_from(SHARED_FIELDS), st.sampled_from(JUNK_FIELDS))
    clients = {role: signed_in_client(app, role) for role in {required, WRONG_ROLE[required]}}
    tokens = {role: csrf_token_of(client) for role, client in clients.items()}

    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(path=path_values(rule, method, ids), fields=st.dictionaries(names, values, max_size=12),
           wrong_role=st.booleans(), htmx=st.booleans(), data=st.data())
    def send(path, fields, wrong_role, htmx, data):
        role = WRONG_ROLE[required] if wrong_role else required
        client = clients[role]
        if own_fields:  # the form's real fields, all of them, hostile values, most of the time
            if data.draw(st.booleans()):
                fields = {name: data.draw(values) for name in own_fields} | fields
        url = rule.build(path, append_unknown=False)[1]
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "GET":
            response = client.get(url, query_string=fields, headers=headers)
        else:
            headers["X-CSRFToken"] = tokens[role]
            body = {**fields, "csrf_token": tokens[role]}
            response = client.open(url, method=method, data=body, headers=headers)
        sent = [*map(str, path.values()), *fields.keys(), *fields.values()]
        try:
            check_answer(response, sent, f"{method} {url} as {role.value}, fields {list(fields)[:12]}")
        finally:
            client.delete_cookie("lang")  # the language toggle must not switch the next answers to English

    send()


@pytest.mark.parametrize("path,method", [("/kiosk/XNC/scan", "POST"), ("/kiosk/XNC/walk-in", "POST"),
                                         ("/auth/sign-in", "POST"), ("/nurse/XNC/find", "POST"),
                                         ("/admin/donors", "POST")])
def test_a_10_mb_form_is_refused_in_words_and_a_20_mb_one_is_413(fuzz, path, method):
    app = fuzz["app"]
    role = {"/nurse": Access.NURSE, "/admin": Access.ORGANISER}.get(path[:6], Access.KIOSK)
    client = signed_in_client(app, role)
    token = csrf_token_of(client)
    for size, expected in ((10 * 1024 * 1024, None), (20 * 1024 * 1024, 413)):
        body = {"csrf_token": token, "pass_code": "x" * size, "nonce": "n" * 20, "query": "q"}
        for htmx in (False, True):
            headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if htmx else {})}
            response = client.open(path, method=method, data=body, headers=headers)
            if expected:
                assert response.status_code == expected
            check_answer(response, ["x" * size], f"{method} {path} with {size // 2**20} MB")


def test_a_10_mb_roster_file_gets_a_message_in_vietnamese(fuzz):
    import io

    app, ids = fuzz["app"], fuzz["ids"]
    client = signed_in_client(app, Access.ORGANISER)
    token = csrf_token_of(client)
    # The multipart body made here, not by the test client: its own spools a large body to a
    # temporary file that it never closes (a ResourceWarning in a later test).
    boundary = "fuzz-boundary-7d1e"
    body = io.BytesIO()
    for name, value in (("csrf_token", token.encode()),):
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n")
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="roster"; filename="danh-sach.csv"\r\n'
               f"Content-Type: text/csv\r\n\r\n".encode())
    body.write(b"\x00\xff<script>" * (10 * 1024 * 1024 // 10))
    body.write(f"\r\n--{boundary}--\r\n".encode())
    response = client.post(f"/admin/drives/{ids['drive']}/roster", data=body.getvalue(),
                           content_type=f"multipart/form-data; boundary={boundary}")
    check_answer(response, ["danh-sach.csv"], "a 10 MB roster of junk")
    assert response.status_code in (400, 413, 422)


def test_errors_speak_english_to_who_chose_english(fuzz):
    app = fuzz["app"]
    client = signed_in_client(app, Access.KIOSK)
    client.set_cookie("lang", "en")
    response = client.get("/nope-😀")
    assert response.status_code == 404 and "This page does not exist." in response.get_data(as_text=True)
    response = client.post("/kiosk/XNC/scan", data={"pass_code": "x"})  # no CSRF token
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def _real_path(rule, ids: dict) -> dict:
    """The route's URL arguments, each a real record (the ones a POST may change)."""
    real = {"visit_id": ids["visit"], "screening_id": ids["screening"], "donation_id": ids["donation"],
            "donor_id": ids["donor"], "staff_id": ids["spare_staff"], "site_id": ids["spare_site"],
            "department_id": ids["spare_department"], "drive_id": ids["spare_drive"], "code": "XNC",
            "token": ids["token"], "kind": "visits", "fmt": "csv"}
    return {name: real.get(name, 1) for name in rule.arguments}


POSTS = [(endpoint, method) for endpoint, method in ROUTES if method == "POST"]
TRIED = {"requests": 0, "5xx": 0}


@pytest.mark.parametrize("endpoint", [e for e, _m in POSTS])
def test_every_post_takes_issue_12s_inputs_in_every_field_without_a_500(fuzz, endpoint):
    """Each of ISSUE_12_INPUTS in every field of the route's forms at once, from the route's own role,
    every other one with a valid nonce and as htmx: no answer is a 5xx."""
    from kiosk.tokens import new_nonce

    app, ids = fuzz["app"], fuzz["ids"]
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and "POST" in r.methods)
    role = rule_for_endpoint(app, endpoint)
    fields = form_fields_of(app.view_functions[endpoint]) or SHARED_FIELDS
    url = rule.build(_real_path(rule, ids), append_unknown=False)[1]
    client = signed_in_client(app, role)
    token = csrf_token_of(client)
    for index, value in enumerate(ISSUE_12_INPUTS):
        for valid_nonce, htmx in [((False, False), (True, True))[index % 2]]:
            body = {name: value for name in fields} | {"csrf_token": token}
            if valid_nonce:
                body["nonce"] = new_nonce()
            headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if htmx else {})}
            response = client.post(url, data=body, headers=headers)
            TRIED["requests"] += 1
            TRIED["5xx"] += response.status_code >= 500
            check_answer(response, [value, *fields], f"POST {url} with {value[:20]!r}… in {fields}")
    print(f"\n{TRIED['requests']} requests tried so far, {TRIED['5xx']} answered 5xx")


# ----- query parameters (issue 22, item 6: "?department=²" on the PDF routes was a 500) -----

# Few, to keep CI short (every GET route is asked each): digits that are not an int's, huge, negative, junk.
QUERY_VALUES = ["²", "١٢", "-1", "9" * 30, "😀\x00", "31/02/2024"]


def query_names() -> list[str]:
    """Every name a view reads from a query string (request.args, id_arg(...), a `values` mapping it
    is handed), found in kiosk/views' source, so a new one is tried without being listed here."""
    names: set[str] = set()
    for path in (Path(__file__).parents[1] / "kiosk" / "views").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"\bargs\b|\bvalues\b|id_arg\(", line):
                names |= set(re.findall(r"[\"']([a-z][a-z_]{0,30})[\"']", line))
    return sorted(names - {"int", "str"})


GETS = [endpoint for endpoint, method in ROUTES if method == "GET"]


@pytest.mark.parametrize("endpoint", GETS)
def test_no_query_parameter_makes_a_500(fuzz, endpoint):
    """Every name any view reads from a query string, at once, with each of QUERY_VALUES, on every
    GET route from its own role (and as htmx every other time); then each name alone (a bad value in
    one name may stop a view before it reads the next) with the values that broke a view before:
    no answer is a 5xx."""
    app, ids = fuzz["app"], fuzz["ids"]
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and "GET" in r.methods)
    client = signed_in_client(app, rule_for_endpoint(app, endpoint))
    url = rule.build(_real_path(rule, ids), append_unknown=False)[1]
    names = query_names()
    assert {"department", "drive", "site", "page"} <= set(names)
    for index, value in enumerate(QUERY_VALUES):
        headers = {"HX-Request": "true"} if index % 2 else {}
        response = client.get(url, query_string={name: value for name in names}, headers=headers)
        assert response.status_code < 500, f"GET {url}?…={value!r}: {response.status_code}"
        client.delete_cookie("lang")
    for name in names:
        for value in QUERY_VALUES[:4:3]:  # "²" and a number past 64 bits
            response = client.get(url, query_string={name: value})
            assert response.status_code < 500, f"GET {url}?{name}={value!r}: {response.status_code}"
