"""WL 2.0 response body (dict) -> WL 1.0 result (dict in XSD order)."""
from __future__ import annotations

from adapter.errors import Outcome, RequestNotExpressible
from adapter.translate import values
from adapter.translate.tables import (
    ELEMENT_WL2_TO_WL1,
    MELDING_WL1,
    MUTATIE_SOORT,
    SIGNAALCODE_OTHER,
    SIGNAALCODE_WL2_TO_WL1,
)


def signaalcode(wl2_code: int) -> int:
    return SIGNAALCODE_WL2_TO_WL1.get(wl2_code, SIGNAALCODE_OTHER)


def outcome(code: int, melding: str | None = None) -> dict:
    """The signalling block of every WL 1.0 result."""
    text = melding if melding is not None else MELDING_WL1.get(code)
    return {"Signaalcode": code, "Melding": text} if text else {"Signaalcode": code}


def outcome_of(exc: Outcome) -> dict:
    """The WL 1.0 answer to a business outcome raised by any stage of the pipeline."""
    if isinstance(exc, RequestNotExpressible):  # its problems name WL 2.0 elements: say which one the school sent
        first = exc.problems[0]
        return outcome(exc.signaalcode, f"{wl1_element(exc.operation, first.element)}: {first.reason}")
    return outcome(exc.signaalcode, exc.melding)


def not_ok(signalering: dict, wl2_operation: str) -> dict:
    """A WL 2.0 answer that is not 0: the mapped code, with WL 2.0's words where they help (an element named in a
    Foutmelding is renamed to the WL 1.0 element the school sent)."""
    code = signaalcode(signalering["Signaalcode"])
    melding = signalering.get("Foutmelding") or (signalering.get("Signaaltekst") if code == 4 else None)
    if melding and ":" in melding:
        element, sep, rest = melding.partition(":")
        melding = wl1_element(wl2_operation, element.strip()) + sep + rest
    return outcome(code, melding)


def wl1_element(wl2_operation: str, element: str) -> str:
    """The WL 1.0 element the school sent for a WL 2.0 element of ``wl2_operation`` (unchanged when unknown)."""
    return ELEMENT_WL2_TO_WL1.get(wl2_operation, {}).get(element, element)


def _ok(body: dict) -> bool:
    return body["Signalering"]["Signaalcode"] == 0


def _items(wrapper: dict | None, name: str) -> list[dict]:
    return list((wrapper or {}).get(name) or [])


def _opleiding(crebo: str, omschrijving: str) -> dict:
    return {"Opleiding": [{"Crebonummer": values.crebo_to_wl1(crebo), "Omschrijving": omschrijving}]}


def identificeer(body: dict) -> dict:
    if not _ok(body):
        return not_ok(body["Signalering"], "IdentificeerLeerbedrijf")
    bedrijven = [
        {
            "Bedrijfsnaam": lb["Naam"],
            "Postcode": lb["Vestigingsadres"]["Postcode"],
            "Huisnummer": lb["Vestigingsadres"]["Huisnummer"],
            "CodeLeerbedrijf": lb["LeerbedrijfId"],
        }
        for lb in _items(body.get("Leerbedrijven"), "Leerbedrijf")
    ]
    if not bedrijven:
        return outcome(1)
    return {**outcome(0), "Bedrijven": {"Bedrijf": bedrijven}}


def verifieer(body: dict) -> dict:
    if not _ok(body):
        return not_ok(body["Signalering"], "VerifieerAccreditatie")
    erkenning = body.get("Erkenning") or {}
    status = erkenning.get("Status")
    if status == "ERKEND":
        result = outcome(0)
        result["Startdatum"] = erkenning.get("Begindatum")
        result["Einddatum"] = erkenning.get("Einddatum")
        return {k: v for k, v in result.items() if v is not None}
    if status == "INGETROKKEN":
        einde = erkenning.get("Einddatum")
        melding = "Erkenning ingetrokken"
        if einde is not None:
            melding += f"; laatste erkende dag {einde.isoformat()}"
        if erkenning.get("Reden"):
            melding += f" ({erkenning['Reden']})"
        return outcome(2, melding)
    return outcome(2)


def _erkenning(erkenning: dict) -> dict:
    """A search result's recognition: Omschrijving and Leerweg only when WL 2.0 gave them."""
    result = {"Crebonummer": values.crebo_to_wl1(erkenning["Crebonummer"])}
    omschrijving, leerweg = erkenning.get("Omschrijving"), erkenning.get("Leerweg")
    if omschrijving is not None:
        result["Omschrijving"] = omschrijving
    if leerweg is not None:
        result["Leerweg"] = leerweg
    return result


def zoeken(body: dict) -> dict:
    if not _ok(body):
        return not_ok(body["Signalering"], "ZoekenLeerbedrijfOfLeerplaats")
    resultaten = []
    for r in _items(body.get("Resultaten"), "Resultaat"):
        item: dict = {}
        plaats = r.get("Leerplaats")
        if plaats:
            item["LeerplaatsId"] = plaats["LeerplaatsId"]
        item["CodeLeerbedrijf"] = r["LeerbedrijfId"]
        item["LeerbedrijfNaam"] = r["Naam"]
        item["Vestigingsadres"] = values.adres_wl1(r["Vestigingsadres"])
        erkenning = r.get("Erkenning")
        if erkenning:
            item["Erkenning"] = _erkenning(erkenning)
            if erkenning.get("Leerweg"):
                item["Leerweg"] = erkenning["Leerweg"]
        if plaats:
            item["Opleidingen"] = _opleiding(plaats["Crebonummer"], plaats["Omschrijving"])
            item["Leerweg"] = plaats["Leerweg"]
            item["LeerplaatsAantal"] = plaats["Aantal"]
            if plaats.get("Vacaturetekst"):
                item["VacatureLeerplaatsOmschrijving"] = plaats["Vacaturetekst"]
        resultaten.append(item)
    totaal = body.get("AantalResultatenTotaal")
    if not resultaten and not totaal:
        return outcome(1)
    result = {**outcome(0), "AantalResultatenTotaal": totaal}
    if resultaten:
        result["Resultaten"] = {"Resultaat": resultaten}
    return result


def details(body: dict, leerplaats_id: int | None = None) -> dict:
    if not _ok(body):
        return not_ok(body["Signalering"], "OpvragenDetailgegevensLeerbedrijf")
    lb = body.get("Leerbedrijf")
    if not lb:
        return outcome(1)
    result = {
        **outcome(0),
        "CodeLeerbedrijf": lb["LeerbedrijfId"],
        "Naam": lb["Naam"],
        "Vestigingsadres": values.adres_wl1(lb["Vestigingsadres"]),
        "Correspondentieadres": (values.adres_wl1(lb["Correspondentieadres"])
                                 if lb.get("Correspondentieadres") else None),
        "Contactpersoon": ({k: v for k, v in lb["Contactpersoon"].items() if v is not None}
                           if lb.get("Contactpersoon") else None),
        "WebsiteUrl": lb.get("Website"),
        "Email": lb.get("Email"),
        "Telefoonnummer": lb.get("Telefoonnummer"),
        "Branche": lb.get("Branche"),
    }
    if leerplaats_id is not None:
        plaats = next((p for p in _items(lb.get("Leerplaatsen"), "Leerplaats")
                       if p["LeerplaatsId"] == leerplaats_id), None)
        if plaats is None:
            return outcome(6)
        onderdelen = _items(plaats.get("Kwalificatieonderdelen"), "Kwalificatieonderdeel")
        result.update({
            "LeerplaatsId": plaats["LeerplaatsId"],
            "Opleidingen": _opleiding(plaats["Crebonummer"], plaats["Omschrijving"]),
            "Omschrijving": plaats["Omschrijving"],
            "Startdatum": plaats.get("Startdatum"),
            "Einddatum": plaats.get("Einddatum"),
            "Kwalificatieonderdelen": {"Kwalificatieonderdeel": [
                {"Type": o["Type"], "Omschrijving": o["Omschrijving"]} for o in onderdelen
            ]} if onderdelen else None,
        })
    return {k: v for k, v in result.items() if v is not None}


def voordracht(body: dict) -> dict:
    """DoeErkenningsvoordracht: 0 with the VoordrachtId SBB gave the proposal; otherwise the mapped code."""
    if not _ok(body):
        return not_ok(body["Signalering"], "DoeErkenningsvoordracht")
    if not body.get("VoordrachtId"):
        return outcome(999, "WL 2.0 bevestigde de voordracht zonder VoordrachtId")
    return {**outcome(0), "VoordrachtId": body["VoordrachtId"]}


def oude_code_ids(body: dict) -> set[str]:
    """The distinct LeerbedrijfIds of the search that resolves an old-style code."""
    if not _ok(body):
        return set()
    return {r["LeerbedrijfId"] for r in _items(body.get("Resultaten"), "Resultaat")}


def mutatie(row: dict) -> dict:
    """A stored WL 2.0 mutation -> WL 1.0 GeefMutaties/Mutatie."""
    m = {
        "Volgnummer": row["volgnummer"],
        "Soort": MUTATIE_SOORT[row["soort"]],
        "CodeLeerbedrijf": row["leerbedrijf_id"],
        "OudeCodeLeerbedrijf": row.get("oud_leerbedrijf_id"),
        "Crebonummer": values.crebo_to_wl1(row["crebo"]) if row.get("crebo") else None,
        "Ingangsdatum": row["ingangsdatum"],
        "Omschrijving": row.get("toelichting"),
    }
    return {k: v for k, v in m.items() if v is not None}

