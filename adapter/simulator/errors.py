"""Input the XSD allows but the simulator answers with a signaalcode other than 0 (see operations.answer)."""
from __future__ import annotations


class BadInput(ValueError):
    """Signaalcode 20: ``element`` names the request element, ``message`` says what is wrong (Dutch)."""

    def __init__(self, element: str, message: str):
        super().__init__(f"{element}: {message}")
        self.element = element
        self.message = message


class UnknownCrebo(ValueError):
    """Signaalcode 11."""
