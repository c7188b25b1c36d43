"""The WL 2.0 operations SBB serves: one function per operation, from a validated request element to the response.

Each takes (simulator state, request element, caller's OIN) and returns the response element. ``BadInput``
becomes signaalcode 20 and ``UnknownCrebo`` 11 (see ``answer``); every other outcome is built here.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lxml import etree

from adapter.simulator import xmlout as x
from adapter.simulator.errors import BadInput, UnknownCrebo
from adapter.simulator.model import status_on, verdict
from adapter.simulator.search import Query, check_crebo, identify, search
from adapter.simulator.state import Simulator
from adapter.simulator.subscriptions import Voordracht
from adapter.simulator.tables import QUALIFICATIONS

Handler = Callable[[Simulator, etree._Element, str], etree._Element]


def identificeer_leerbedrijf(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "IdentificeerLeerbedrijf"
    found = identify(sim.register, x.field(req, "Naam"), x.field(req, "Postcode"), x.integer(req, "Huisnummer"))
    if not found:
        return x.response(op, 1)
    resp = x.response(op, 0)
    wrapper = x.sub(resp, "Leerbedrijven")
    for c in found:
        x.leerbedrijf_kort(wrapper, c, sim.register.details(c))
    return resp


def verifieer_accreditatie(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "VerifieerAccreditatie"
    crebo = x.field(req, "Crebonummer")
    company = sim.register.company(x.field(req, "LeerbedrijfId"))
    check_crebo(crebo)
    if company is None:
        return x.response(op, 10)
    outcome = verdict(company.erkenningen, crebo, x.day(req, "Startdatum"))
    resp = x.response(op, 0)
    x.verdict(resp, company, crebo, outcome, QUALIFICATIONS[crebo])
    return resp


def zoeken(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "ZoekenLeerbedrijfOfLeerplaats"
    query = Query(
        soort=x.field(req, "Soort"), pagina=x.integer(req, "Pagina"), per_pagina=x.integer(req, "AantalPerPagina"),
        naam=x.field(req, "Naam"), naam_exact=x.flag(req, "NaamExact"), leerbedrijf_id=x.field(req, "LeerbedrijfId"),
        straat=x.field(req, "Straat"), huisnummer=x.integer(req, "Huisnummer"), plaats=x.field(req, "Plaats"),
        postcode_van=x.field(req, "PostcodeVan"), postcode_tot=x.field(req, "PostcodeTot"),
        in_de_buurt=x.flag(req, "ZoekInDeBuurt"), crebo=x.field(req, "Crebonummer"), leerweg=x.field(req, "Leerweg"),
    )
    total, page = search(sim.register, query, sim.today())
    if total == 0:
        return x.response(op, 1)
    resp = x.response(op, 0)
    x.sub(resp, "AantalResultatenTotaal", total)
    if page:
        wrapper = x.sub(resp, "Resultaten")
        for hit in page:
            el = x.sub(wrapper, "Resultaat")
            x.sub(el, "LeerbedrijfId", hit.company.leerbedrijf_id)
            x.sub(el, "Naam", hit.company.naam)
            x.adres(el, "Vestigingsadres", hit.company.adres)
            if hit.erkenning is not None:
                x.erkenning(el, hit.company, hit.erkenning, "ERKEND", QUALIFICATIONS[hit.erkenning.crebo])
            if hit.leerplaats is not None:
                x.leerplaats(el, hit.leerplaats)
    return resp


def opvragen_details(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "OpvragenDetailgegevensLeerbedrijf"
    leerplaats_id = x.integer(req, "LeerplaatsId")
    if leerplaats_id is not None:
        found = sim.register.placement(leerplaats_id)
        if found is None:
            return x.response(op, 12)
        company = found[0]
    else:
        company = sim.register.company(x.field(req, "LeerbedrijfId"))
        if company is None:
            return x.response(op, 10)
    today = sim.today()
    resp = x.response(op, 0)
    x.leerbedrijf_detail(resp, company, sim.register.details(company), lambda r: status_on(r, today),
                         QUALIFICATIONS.__getitem__)
    return resp


def verzoek_abonnement(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "VerzoekAbonnementMutaties"
    leerbedrijf_id, crebo = x.field(req, "LeerbedrijfId"), x.field(req, "Crebonummer")
    check_crebo(crebo)
    if sim.register.company(leerbedrijf_id) is None:
        return x.response(op, 10)
    existing = sim.subscriptions.find(oin, leerbedrijf_id, crebo)
    if existing is not None:
        resp = x.response(op, 30)
        x.sub(resp, "AbonnementId", existing.abonnement_id)
        return resp
    afleveradres = x.field(req, "Afleveradres")
    sub = sim.subscriptions.add(oin, leerbedrijf_id, crebo, afleveradres.strip() if afleveradres else None)
    resp = x.response(op, 0)
    x.sub(resp, "AbonnementId", sub.abonnement_id)
    return resp


def overzicht_abonnementen(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "OverzichtLopendeAbonnementen"
    subs = sim.subscriptions.of_school(oin)
    resp = x.response(op, 0)  # none running: 0 without the wrapper (a listing, not a search)
    if not subs:
        return resp
    wrapper = x.sub(resp, "Abonnementen")
    for s in subs:
        el = x.sub(wrapper, "Abonnement")
        x.sub(el, "AbonnementId", s.abonnement_id)
        x.sub(el, "LeerbedrijfId", s.leerbedrijf_id)
        x.opt(el, "Crebonummer", s.crebo)
        x.opt(el, "Afleveradres", s.afleveradres)
        x.sub(el, "Sinds", s.sinds.isoformat().replace("+00:00", "Z"))
    return resp


def beeindig_abonnement(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    ended = sim.subscriptions.end(oin, x.field(req, "AbonnementId").strip())
    return x.response("BeeindigAbonnement", 0 if ended else 31)


def _fields(element: etree._Element | None) -> dict | None:
    """A received address or contact, as its fields (lower-case names) for the admin listing."""
    if element is None:
        return None
    return {etree.QName(c).localname[:1].lower() + etree.QName(c).localname[1:]: c.text
            for c in element if isinstance(c.tag, str)}


def doe_voordracht(sim: Simulator, req: etree._Element, oin: str) -> etree._Element:
    op = "DoeErkenningsvoordracht"
    crebo = x.field(req, "Crebonummer")
    check_crebo(crebo)
    naam = x.field(req, "Bedrijfsnaam").strip()
    if not naam:
        raise BadInput("Bedrijfsnaam", "de bedrijfsnaam is leeg")
    voordracht = Voordracht(x.guid(), oin, dt.datetime.now(dt.timezone.utc).replace(microsecond=0), naam,
                            x.field(req, "KvkNummer"), crebo, x.field(req, "Leerweg"), x.field(req, "Toelichting"),
                            _fields(req.find(x.NS + "Vestigingsadres")), _fields(req.find(x.NS + "Contactpersoon")))
    sim.voordrachten.append(voordracht)
    resp = x.response(op, 0)
    x.sub(resp, "VoordrachtId", voordracht.voordracht_id)
    return resp


OPERATIONS: dict[str, Handler] = {
    "IdentificeerLeerbedrijf": identificeer_leerbedrijf,
    "VerifieerAccreditatie": verifieer_accreditatie,
    "ZoekenLeerbedrijfOfLeerplaats": zoeken,
    "OpvragenDetailgegevensLeerbedrijf": opvragen_details,
    "VerzoekAbonnementMutaties": verzoek_abonnement,
    "OverzichtLopendeAbonnementen": overzicht_abonnementen,
    "BeeindigAbonnement": beeindig_abonnement,
    "DoeErkenningsvoordracht": doe_voordracht,
}


def answer(sim: Simulator, operation: str, req: etree._Element, oin: str) -> etree._Element:
    """Run ``operation``; input errors become their signaalcode (20 naming the element, 11)."""
    try:
        with sim.register.lock:
            return OPERATIONS[operation](sim, req, oin)
    except BadInput as exc:
        return x.response(operation, 20, f"{exc.element}: {exc.message}")
    except UnknownCrebo as exc:
        return x.response(operation, 11, f"Crebonummer: {exc} komt niet voor in de kwalificatiedossiers")
