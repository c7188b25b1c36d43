"""WL 1.0 request (dict) -> WL 2.0 request body (dict, without BerichtID). Company codes arrive resolved."""
from __future__ import annotations

from adapter.translate import values
from adapter.translate.tables import ZOEK_SOORT


def _without_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def identificeer(req: dict) -> dict:
    return _without_none({
        "Naam": req["Bedrijfsnaam"],
        "Postcode": values.postcode(req["Postcode"]),
        "Huisnummer": values.huisnummer_to_wl2(req.get("Huisnummer")),
    })


def verifieer(req: dict, leerbedrijf_id: str) -> dict:
    return {
        "LeerbedrijfId": leerbedrijf_id,
        "Crebonummer": values.crebo_to_wl2(req["Crebonummer"]),
        "Startdatum": req["Peildatum"],
    }


def zoeken(req: dict, leerbedrijf_id: str | None) -> dict:
    adres = req.get("Vestigingsadres") or {}
    van = tot = None
    if req.get("PostcodeRange") is not None:
        van, tot = values.postcode_range(req["PostcodeRange"])
    naam = req.get("LeerbedrijfNaam")
    crebo = req.get("Crebonummer")
    return _without_none({
        "Soort": ZOEK_SOORT[req["LeerplaatsErkenningAanduiding"]],
        "Naam": naam.replace("%", "*") if naam is not None else None,
        "NaamExact": req.get("LeerbedrijfNaamExact"),
        "LeerbedrijfId": leerbedrijf_id,
        "Straat": adres.get("Straat"),
        "Huisnummer": values.huisnummer_to_wl2(adres.get("Huisnummer")),
        "Plaats": adres.get("Plaats"),  # Vestigingsadres/Land is ignored: WL 2.0 searches Dutch addresses
        "PostcodeVan": van,
        "PostcodeTot": tot,
        "ZoekInDeBuurt": req.get("ZoekInDeBuurt"),
        "Crebonummer": values.crebo_to_wl2(crebo) if crebo is not None else None,
        "Leerweg": req.get("Leerweg"),
        "Pagina": req["Pagina"],
        "AantalPerPagina": req["AantalResultatenPerPagina"],
    })


def details(req: dict, leerbedrijf_id: str | None) -> dict:
    if leerbedrijf_id is not None:
        return {"LeerbedrijfId": leerbedrijf_id}
    # as text: zeep picks the branch of an xs:choice by truthiness and would drop LeerplaatsId 0 (valid, unknown)
    return {"LeerplaatsId": str(req["LeerplaatsId"])}


def zoek_oude_code(code: values.OldCode) -> dict:
    """The search that resolves an old-style CodeLeerbedrijf: recognised companies at that address."""
    return _without_none({
        "Soort": "LEERBEDRIJF",
        "Huisnummer": values.huisnummer_to_wl2(code.huisnummer),
        "PostcodeVan": code.postcode,
        "PostcodeTot": code.postcode,
        "Pagina": 1,
        "AantalPerPagina": 100,
    })


def adres(adres_wl1: dict, element: str = "Vestigingsadres") -> dict:
    """A WL 1.0 Adres (street and number in ``Straat``) -> WL 2.0 Adres: the inverse of the address join rule.
    A Dutch postcode is normalised as everywhere ('1234 ab' -> '1234AB'); a foreign one passes as written."""
    straat = values.split_straat(adres_wl1["Straat"], f"{element}/Straat")
    land = values.land_wl2(adres_wl1["Land"])
    postcode = adres_wl1["Postcode"].strip()
    return _without_none({
        "Straat": straat.straat,
        "Huisnummer": straat.huisnummer,
        "Huisnummertoevoeging": straat.toevoeging,
        "Postcode": values.postcode(postcode, f"{element}/Postcode") if land == "NL" else postcode,
        "Plaats": adres_wl1["Plaats"].strip(),
        "Land": land,
    })


def voordracht(req: dict) -> dict:
    """DoeErkenningsvoordracht: the company as the school describes it; Toelichting verbatim."""
    contact = req.get("Contactpersoon")
    return _without_none({
        "Bedrijfsnaam": req["Bedrijfsnaam"],
        "KvkNummer": req.get("KvkNummer"),
        "Vestigingsadres": adres(req["Vestigingsadres"]),
        "Contactpersoon": _without_none({k: contact.get(k) for k in ("Naam", "Email", "Telefoonnummer")})
        if contact else None,
        "Crebonummer": values.crebo_to_wl2(req["Crebonummer"]),
        "Leerweg": req["Leerweg"],
        "Toelichting": req.get("Toelichting"),
    })
