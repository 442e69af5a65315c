"""Pass tokens: what a QR pass carries. Random, not derived from anything about the donor."""
from __future__ import annotations

import re
import secrets

TOKEN_BYTES = 24  # 192 bits from the OS's CSPRNG; base64url gives 32 characters
TOKEN_LENGTH = 32
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{%d}$" % TOKEN_LENGTH)


def new_pass_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def pass_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/p/{token}"


_PASS_IN_TEXT = re.compile(r"(?:^|/p/)([A-Za-z0-9_-]{%d})/?$" % TOKEN_LENGTH)


def token_from_scan(text: str) -> str | None:
    """A scanner types the whole pass URL (or, from a ticket, just the token); take the token.

    Anything else, from any host, yields None: the caller treats it as an unknown code."""
    match = _PASS_IN_TEXT.search(text.strip())
    return match.group(1) if match else None
