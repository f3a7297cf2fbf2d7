"""Addresses formatted as Dataverse formats them, shared by ``FormatAddress`` and the composites.

The service builds the full address "according to country/regional format specific
requirements" (FormatAddress's reference page); the mock knows two orders, the ones
Microsoft's functions sample shows: Japan's (postal code, prefecture, city, lines,
country) for ``JAPAN``/``JP``/``JPN``/``日本`` and the US order (lines, ``City, State
PostalCode``, country) for every other country. Lines are joined with ``\\r\\n`` and empty
parts are left out, as in the service's answers (``"Austin\\r\\nUnited States"``).
"""

from __future__ import annotations

from collections.abc import Sequence

_JAPAN = frozenset({"japan", "jp", "jpn", "日本"})


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def format_address(lines: Sequence[object], city: object, state: object, postal: object, country: object) -> str:
    """The address as one ``\\r\\n``-separated string ("" when every part is empty).

    ``lines`` are the street lines in order (FormatAddress has one, a record's address three).
    """
    street = [_text(line) for line in lines]
    city_text, state_text, postal_text, country_text = _text(city), _text(state), _text(postal), _text(country)
    if country_text.lower() in _JAPAN:
        parts = [postal_text, state_text, city_text, *street, country_text]
    else:
        locality_city = f"{city_text}," if city_text and (state_text or postal_text) else city_text
        locality = " ".join(p for p in (locality_city, state_text, postal_text) if p)
        parts = [*street, locality, country_text]
    return "\r\n".join(p for p in parts if p)
