"""kiosk.inputs: dates and names as people type them."""
import datetime as dt

import pytest

from kiosk.inputs import fold_diacritics, parse_date


def test_parse_date_and_fold_diacritics():
    assert parse_date("3/9/1986") == dt.date(1986, 9, 3)
    assert parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("29/02/2023")
    assert fold_diacritics("  Đặng  Thị Bích Ngọc ") == "dang thi bich ngoc"
