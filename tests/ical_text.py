"""Reading iCalendar TEXT values back the way calendar applications do.

icalendar 7 parses SUMMARY and DESCRIPTION as TEXT (unescaped) but leaves NAME, X-WR-CALNAME
and X-WR-CALDESC as raw values, still escaped; :func:`text_of` unescapes those (RFC 5545
section 3.3.11).
"""

from __future__ import annotations

import re

from icalendar.cal.component import Component
from icalendar.prop import vText

_ESCAPE = re.compile(r"\\([nN;,\\])")


def text_of(component: Component, name: str) -> str:
    """The property's text, unescaped whatever type icalendar parsed it as."""
    value = component[name]
    if isinstance(value, vText):
        return str(value)
    return _ESCAPE.sub(lambda match: "\n" if match.group(1) in "nN" else match.group(1), str(value))
