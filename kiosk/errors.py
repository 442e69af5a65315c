"""The refusal every domain function raises: an outcome code the views turn into words.

As pretix's check-in does: the domain decides and says why with a machine-readable code
(`changed_meanwhile`, `bag_number_taken`, ...), never with a sentence; kiosk.labels has the
sentences. Each module's subclass lists the codes it may give, so a typo fails at once.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    CODES: tuple[str, ...] = ()

    def __init__(self, code: str, **params: Any):
        assert not self.CODES or code in self.CODES, code
        super().__init__(code)
        self.code = code
        self.params = params
