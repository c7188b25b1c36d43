"""Value-level translation rules: postcodes, crebo numbers, addresses, countries, company codes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from adapter.errors import InvalidInput
from adapter.translate.tables import LAND_ISO, LAND_NAAM

POSTCODE_NL = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
LEERBEDRIJF_ID = re.compile(r"^[0-9]{1,12}$")
# old-style CodeLeerbedrijf: BRIN of the former kenniscentrum (4) + postcode (6) + house number (5) + sequence (2)
OLD_CODE = re.compile(r"^([0-9A-Z]{4})([1-9][0-9]{3}[A-Z]{2})([0-9]{5})([0-9]{2})$")


def postcode(value: str, element: str = "Postcode") -> str:
    """'1234 ab' -> '1234AB'; anything that is then not a Dutch postcode is invalid input."""
    normalised = re.sub(r"\s+", "", value).upper()
    if not POSTCODE_NL.match(normalised):
        raise InvalidInput(element, f"'{value}' is geen geldige postcode (verwacht 1234AB)")
    return normalised


def postcode_range(value: str) -> tuple[str, str]:
    """One postcode or from+to in one string ('1234AB1299ZZ') -> (PostcodeVan, PostcodeTot)."""
    compact = re.sub(r"\s+", "", value).upper()
    if len(compact) == 6:
        pc = postcode(compact, "PostcodeRange")
        return pc, pc
    if len(compact) == 12:
        van, tot = postcode(compact[:6], "PostcodeRange"), postcode(compact[6:], "PostcodeRange")
        if van > tot:
            raise InvalidInput("PostcodeRange", f"'{value}': het bereik loopt achteruit ({van} na {tot})")
        return van, tot
    raise InvalidInput("PostcodeRange",
                       f"'{value}' is geen postcode of postcodebereik (verwacht 1234AB of 1234AB1299ZZ)")


def xs_date(text: str, element: str) -> date:
    """An xs:date the XSD accepted, as a date; years outside 0001..9999 (which xs:date allows) are invalid input."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise InvalidInput(element, f"datum '{text.strip()}' valt buiten 0001-01-01..9999-12-31") from None


def xs_integer(text: str) -> int:
    """An integer in the XSD's lexical form ('+007', '-0', 4,400 digits of which 4,399 leading zeros), the XSD having
    accepted it. Leading zeros are dropped before ``int()``, whose limit on digits (4,300) they would otherwise hit;
    what remains of an xs:int or xs:long is at most 19 digits."""
    sign = -1 if text.startswith("-") else 1
    return sign * int(text.lstrip("+-").lstrip("0") or "0")


def crebo_to_wl2(crebo: int) -> str:
    return f"{crebo:05d}"


def crebo_to_wl1(crebo: str) -> int:
    return int(crebo)


def huisnummer_to_wl2(huisnummer: int | None) -> int | None:
    """0 or absent means unknown: no Huisnummer upstream."""
    return huisnummer if huisnummer else None


def straat_wl1(straat: str, huisnummer: int, toevoeging: str | None) -> str:
    """'Oudegracht' 12 'a' -> 'Oudegracht 12a'; 'Kerkweg' 7 '2' -> 'Kerkweg 7-2'."""
    text = f"{straat} {huisnummer}"
    if toevoeging:
        text += ("-" if toevoeging[0].isdigit() else "") + toevoeging
    return text


def land_wl1(iso: str) -> str:
    return LAND_NAAM.get(iso, iso)


def land_wl2(naam: str) -> str:
    """'Nederland' -> 'NL' (any case, surrounding spaces ignored); an ISO code or an unknown name passes unchanged
    (WL 2.0's XSD then decides: an unknown country name is answered 4 naming the element)."""
    text = naam.strip()
    return LAND_ISO.get(text.casefold(), text)


# "Oudegracht 12a", "Kerkweg 7-2", "Laan 1940-1945 3 bis": the street is everything before the last house number
_STRAAT = re.compile(r"^(?P<straat>\S.*)\s(?P<nummer>[0-9]{1,9})(?:\s?-\s?|\s?)"
                     r"(?P<toevoeging>[A-Za-z0-9][A-Za-z0-9 /-]*)?$")


@dataclass(frozen=True)
class Straat:
    straat: str
    huisnummer: int
    toevoeging: str | None


def split_straat(value: str, element: str = "Vestigingsadres/Straat") -> Straat:
    """The inverse of ``straat_wl1``: 'Oudegracht 12a' -> ('Oudegracht', 12, 'a'), 'Kerkweg 7-2' -> ('Kerkweg', 7,
    '2'), 'Plein 1944 12' -> ('Plein 1944', 12, None). A toevoeging may also follow after a space ('12 bis').
    No house number (or 0) at the end: invalid input naming ``element``."""
    text = re.sub(r"\s+", " ", value).strip()
    m = _STRAAT.match(text)
    if m is None or int(m.group("nummer")) < 1:
        raise InvalidInput(element, f"'{value.strip()}' is niet te splitsen in straat en huisnummer "
                                    "(verwacht bijvoorbeeld 'Oudegracht 12a' of 'Kerkweg 7-2')")
    toevoeging = (m.group("toevoeging") or "").strip() or None
    return Straat(m.group("straat"), int(m.group("nummer")), toevoeging)


def adres_wl1(adres: dict) -> dict:
    return {
        "Straat": straat_wl1(adres["Straat"], adres["Huisnummer"], adres.get("Huisnummertoevoeging")),
        "Postcode": adres["Postcode"],
        "Plaats": adres["Plaats"],
        "Land": land_wl1(adres["Land"]),
    }


@dataclass(frozen=True)
class OldCode:
    brin: str
    postcode: str
    huisnummer: int
    volgnummer: int


def parse_old_code(code: str) -> OldCode | None:
    m = OLD_CODE.match(code.strip().upper())
    if not m:
        return None
    return OldCode(m.group(1), m.group(2), int(m.group(3)), int(m.group(4)))


def is_leerbedrijf_id(code: str) -> bool:
    return bool(LEERBEDRIJF_ID.match(code))
