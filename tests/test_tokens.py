import re

import pytest

from kiosk.tokens import TOKEN_LENGTH, new_pass_token, pass_url, token_from_scan


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)


def test_tokens_are_long_urlsafe_and_unique():
    tokens = [new_pass_token() for _ in range(10_000)]
    assert len(set(tokens)) == 10_000
    assert all(len(t) == TOKEN_LENGTH == 32 for t in tokens)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)
    # 32 base64url characters carry 192 bits; every character of the alphabet turns up.
    assert len(set("".join(tokens))) == 64


def test_token_from_scan_accepts_pass_urls_and_bare_tokens():
    token = new_pass_token()
    assert token_from_scan(pass_url("http://192.168.1.20:8000", token)) == token
    assert token_from_scan(pass_url("http://192.168.1.20:8000", token) + "\n") == token
    assert token_from_scan(token) == token


def test_token_from_scan_rejects_anything_else():
    for text in ("", "hello", "http://x/p/short", "http://x/p/" + "A" * 33, "A" * 31, "<script>", "\x00" * 40):
        assert token_from_scan(text) is None
