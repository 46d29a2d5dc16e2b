"""Pydantic validation errors as plain field/message pairs, for the API, the pages and the CLI."""

from __future__ import annotations

from pydantic import ValidationError


def validation_messages(error: ValidationError) -> list[dict[str, str]]:
    """Flatten pydantic errors to ``[{"field": "a.b", "message": "..."}]``."""
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "body",
            "message": item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, "),
        }
        for item in error.errors()
    ]
