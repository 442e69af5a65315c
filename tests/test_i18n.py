"""Vietnamese is complete: every string in the code and templates has a translation, and the
compiled catalogue matches its source."""
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "kiosk" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"


@pytest.mark.slow
def test_every_string_has_a_vietnamese_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "--no-location", "."], cwd=ROOT, check=True,
                   capture_output=True)
    with pot.open("rb") as fh:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog
                  if m.id and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy}
    assert sorted(wanted - translated) == []


def test_compiled_catalogue_matches_the_po_file():
    def key(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    with PO.open("rb") as fh:
        po = {key(m.id): key(m.string) for m in read_po(fh, locale="vi") if m.id}
    with PO.with_suffix(".mo").open("rb") as fh:
        mo = {key(m.id): key(m.string) for m in read_mo(fh) if m.id}
    assert po == mo, "run: python tools/i18n.py compile"
