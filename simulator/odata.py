"""The one ``$filter`` the simulated Graph understands: a message's internet header.

Exchange files every internet message header of a message as a named property in
the PS_INTERNET_HEADERS property set, so Graph finds a message by a header through
its single-value extended properties::

    singleValueExtendedProperties/any(ep: ep/id eq 'String
    {00020386-0000-0000-C000-000000000046} Name x-my-header' and ep/value eq 'v')

That is how the product finds a resend in Sent Items. Header names match without
regard to case, as in Exchange; any other filter is refused as Graph refuses what
it cannot parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

INTERNET_HEADERS = "{00020386-0000-0000-C000-000000000046}"

_HEADER_FILTER = re.compile(
    r"\s*singleValueExtendedProperties/any\(\s*(?P<var>[A-Za-z_]\w*)\s*:\s*"
    r"(?P=var)/id\s+eq\s+'String\s+"
    + re.escape(INTERNET_HEADERS)
    + r"\s+Name\s+(?P<name>[^'\s]+)'\s+and\s+"
    r"(?P=var)/value\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*\)\s*",
    re.IGNORECASE,
)


class UnsupportedFilter(ValueError):
    """A ``$filter`` the simulator cannot answer; Graph's 400 for it."""


@dataclass(frozen=True)
class HeaderFilter:
    """Messages whose internet header ``name`` has exactly ``value``."""

    name: str
    value: str

    def matches(self, message: Message) -> bool:
        return any(str(found) == self.value for found in message.get_all(self.name, []))


def parse_filter(raw: str) -> HeaderFilter:
    """The header filter in ``raw``; UnsupportedFilter for any other expression."""
    matched = _HEADER_FILTER.fullmatch(raw)
    if matched is None:
        raise UnsupportedFilter("The query filter contains one or more invalid nodes.")

    return HeaderFilter(matched["name"], matched["value"].replace("''", "'"))
