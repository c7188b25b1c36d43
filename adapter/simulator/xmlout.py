"""WL 2.0 message elements, built in XSD order: reading request fields and writing the response shapes."""
from __future__ import annotations

import datetime as dt
import uuid

from lxml import etree

from adapter.contracts import WL2_NS
from adapter.simulator.errors import BadInput
from adapter.simulator.model import Address, Company, Details, Placement, Recognition, Verdict
from adapter.simulator.tables import signaaltekst

NS = f"{{{WL2_NS}}}"
NSMAP = {"wl2": WL2_NS}


def field(message: etree._Element, name: str) -> str | None:
    """The text of a direct child of a request (validated before, so its type is right), or None."""
    child = message.find(NS + name)
    return None if child is None else (child.text or "")


def flag(message: etree._Element, name: str) -> bool:
    return field(message, name) in ("true", "1")


def integer(message: etree._Element, name: str) -> int | None:
    value = field(message, name)
    return None if value is None else int(value)


def day(message: etree._Element, name: str) -> dt.date | None:
    """An xs:date (a time zone suffix is ignored); a year the XSD allows but no calendar here has is BadInput."""
    value = field(message, name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise BadInput(name, f"datum {value.strip()} valt buiten 0001-01-01..9999-12-31") from None


def guid() -> str:
    return str(uuid.uuid4())


def sub(parent: etree._Element, name: str, value=None) -> etree._Element:
    el = etree.SubElement(parent, NS + name)
    if value is not None:
        el.text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return el


def opt(parent: etree._Element, name: str, value) -> None:
    if value is not None:
        sub(parent, name, value)


def response(operation: str, code: int, foutmelding: str | None = None) -> etree._Element:
    """``<Op>Response`` with a fresh BerichtID and the Signalering block."""
    root = etree.Element(NS + operation + "Response", nsmap=NSMAP)
    sub(root, "BerichtID", guid())
    signalering = sub(root, "Signalering")
    sub(signalering, "Signaalcode", code)
    sub(signalering, "Signaaltekst", signaaltekst(code))
    opt(signalering, "Foutmelding", foutmelding)
    return root


def adres(parent: etree._Element, name: str, a: Address) -> None:
    el = sub(parent, name)
    sub(el, "Straat", a.straat)
    sub(el, "Huisnummer", a.huisnummer)
    opt(el, "Huisnummertoevoeging", a.toevoeging)
    sub(el, "Postcode", a.postcode)
    sub(el, "Plaats", a.plaats)
    sub(el, "Land", a.land)


def erkenning(parent: etree._Element, c: Company, r: Recognition, status: str, qualification: str) -> None:
    el = sub(parent, "Erkenning")
    sub(el, "LeerbedrijfId", c.leerbedrijf_id)
    sub(el, "Crebonummer", r.crebo)
    sub(el, "Omschrijving", qualification)
    sub(el, "Leerweg", r.leerweg)
    sub(el, "Status", status)
    sub(el, "Begindatum", r.begindatum)
    opt(el, "Einddatum", r.einddatum)
    opt(el, "Reden", r.reden)


def verdict(parent: etree._Element, c: Company, crebo: str, v: Verdict, qualification: str) -> None:
    if v.deciding is None:  # NIET_ERKEND: only the key and the status
        el = sub(parent, "Erkenning")
        sub(el, "LeerbedrijfId", c.leerbedrijf_id)
        sub(el, "Crebonummer", crebo)
        sub(el, "Status", v.status)
    else:
        erkenning(parent, c, v.deciding, v.status, qualification)


def leerplaats(parent: etree._Element, p: Placement) -> None:
    el = sub(parent, "Leerplaats")
    sub(el, "LeerplaatsId", p.leerplaats_id)
    sub(el, "Crebonummer", p.crebo)
    sub(el, "Omschrijving", p.omschrijving)
    sub(el, "Leerweg", p.leerweg)
    sub(el, "Aantal", p.aantal)
    opt(el, "Vacaturetekst", p.vacaturetekst)
    opt(el, "Startdatum", p.startdatum)
    opt(el, "Einddatum", p.einddatum)
    if p.onderdelen:
        wrapper = sub(el, "Kwalificatieonderdelen")
        for o in p.onderdelen:
            k = sub(wrapper, "Kwalificatieonderdeel")
            sub(k, "Type", o.type)
            sub(k, "Omschrijving", o.omschrijving)


def leerbedrijf_kort(parent: etree._Element, c: Company, d: Details) -> None:
    el = sub(parent, "Leerbedrijf")
    sub(el, "LeerbedrijfId", c.leerbedrijf_id)
    sub(el, "Naam", c.naam)
    adres(el, "Vestigingsadres", c.adres)
    if d.correspondentie is not None:
        adres(el, "Correspondentieadres", d.correspondentie)


def leerbedrijf_detail(parent: etree._Element, c: Company, d: Details, status_of, qualification_of) -> None:
    """The whole company; ``status_of(r)`` gives a recognition's status today."""
    el = sub(parent, "Leerbedrijf")
    sub(el, "LeerbedrijfId", c.leerbedrijf_id)
    sub(el, "Naam", c.naam)
    opt(el, "KvkNummer", d.kvk)
    adres(el, "Vestigingsadres", c.adres)
    if d.correspondentie is not None:
        adres(el, "Correspondentieadres", d.correspondentie)
    if d.contact is not None:
        contact = sub(el, "Contactpersoon")
        sub(contact, "Naam", d.contact.naam)
        opt(contact, "Email", d.contact.email)
        opt(contact, "Telefoonnummer", d.contact.telefoon)
    opt(el, "Website", d.website)
    opt(el, "Email", d.email)
    opt(el, "Telefoonnummer", d.telefoon)
    opt(el, "Branche", d.branche)
    if c.erkenningen:
        wrapper = sub(el, "Erkenningen")
        for r in sorted(c.erkenningen, key=lambda r: (r.crebo, r.leerweg, r.begindatum)):
            erkenning(wrapper, c, r, status_of(r), qualification_of(r.crebo))
    if c.leerplaatsen:
        wrapper = sub(el, "Leerplaatsen")
        for p in c.leerplaatsen:
            leerplaats(wrapper, p)
