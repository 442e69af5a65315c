"""The Vietnamese screens speak as Vietnamese blood services do: one form of address for the donor
("anh/chị", never "bạn"), "phiếu đăng ký hiến máu" (not the COVID-era "phiếu khai báo"), "đơn vị
máu" (not "quy đổi đơn vị 250 ml"), and decimals with a comma."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)

PO = Path(__file__).resolve().parent.parent / "kiosk" / "translations" / "vi" / "LC_MESSAGES" / "messages.po"

# (pattern, why) over every msgstr; \b does not work on Vietnamese letters, so words are bounded by
# anything that is not a letter.
NOT_A_LETTER = r"(?<![^\W\d_])"
NOT_A_LETTER_AFTER = r"(?![^\W\d_])"
FORBIDDEN = [
    (NOT_A_LETTER + r"bạn" + NOT_A_LETTER_AFTER, 'the donor is "anh/chị", never "bạn"'),
    (r"khai báo", '"phiếu đăng ký hiến máu", not "phiếu khai báo"'),
    (r"quy đổi", '"đơn vị máu", not "quy đổi đơn vị 250 ml"'),
    (r"\d\.\d", "decimals are written with a comma on Vietnamese screens"),
]


def _msgstrs():
    with PO.open("rb") as fh:
        for message in read_po(fh, locale="vi"):
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
            for text in strings:
                yield (message.id if isinstance(message.id, str) else message.id[0]), text or ""


def test_no_vietnamese_string_uses_a_word_the_blood_services_do_not():
    found = [(msgid, text, why) for msgid, text in _msgstrs() for pattern, why in FORBIDDEN
             if re.search(pattern, text, re.IGNORECASE)]
    assert found == []


def test_the_forbidden_word_check_sees_a_word_and_not_a_syllable_inside_one():
    pattern = FORBIDDEN[0][0]
    assert re.search(pattern, "Quét mã trên thẻ của bạn", re.IGNORECASE)
    assert re.search(pattern, "Bạn đã hiến máu chưa?", re.IGNORECASE)
    assert not re.search(pattern, "anh/chị", re.IGNORECASE)


def test_the_number_error_gives_a_weight_as_its_example():
    examples = {msgid: text for msgid, text in _msgstrs() if msgid.startswith("Enter a number, such as")}
    assert examples and all("58,5" in text for text in examples.values()), examples
