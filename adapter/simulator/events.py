"""POST /admin/events: a change at SBB, applied to the register and pushed to every matching subscription."""
from __future__ import annotations

import datetime as dt
import re

from adapter.simulator.pushes import Mutation, Push
from adapter.simulator.register import RegisterError
from adapter.simulator.state import Simulator
from adapter.simulator.tables import QUALIFICATIONS, WITHDRAWAL_REASON_DEFAULT
from adapter.translate.tables import MUTATION_KINDS
from adapter.translate.values import LEERBEDRIJF_ID

SOORTEN = MUTATION_KINDS
NEEDS_CREBO = ("ERKENNING_INGETROKKEN", "ERKENNING_VERLEEND", "ERKENNING_GEWIJZIGD")
FIELDS = ("soort", "leerbedrijfId", "crebonummer", "ingangsdatum", "nieuwLeerbedrijfId", "toelichting", "leerweg")
_CREBO = re.compile(r"[0-9]{5}")


def _text(payload: dict, name: str, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise RegisterError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RegisterError(name, f"must be a string, got {type(value).__name__}")
    return str(value).strip()


def _parse(payload: dict, today: dt.date) -> tuple[Mutation, str]:
    if not isinstance(payload, dict):
        raise RegisterError("(body)", "must be a JSON object")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise RegisterError(unknown[0], f"unknown field; known are {', '.join(FIELDS)}")
    soort = _text(payload, "soort", required=True)
    if soort not in SOORTEN:
        raise RegisterError("soort", f"'{soort}' is not one of {', '.join(SOORTEN)}")
    leerbedrijf_id = _text(payload, "leerbedrijfId", required=True)
    crebo = _text(payload, "crebonummer", required=soort in NEEDS_CREBO)
    if crebo is not None and (not _CREBO.fullmatch(crebo) or crebo not in QUALIFICATIONS):
        raise RegisterError("crebonummer", f"'{crebo}' is not a crebo of the qualification table")
    datum = _text(payload, "ingangsdatum")
    try:
        ingangsdatum = dt.date.fromisoformat(datum) if datum else today
    except ValueError:
        raise RegisterError("ingangsdatum", f"'{datum}' is not a date YYYY-MM-DD") from None
    new_id = _text(payload, "nieuwLeerbedrijfId", required=soort == "LEERBEDRIJFID_GEWIJZIGD")
    if new_id is not None and soort != "LEERBEDRIJFID_GEWIJZIGD":
        raise RegisterError("nieuwLeerbedrijfId", "belongs only to soort LEERBEDRIJFID_GEWIJZIGD")
    if new_id is not None and not LEERBEDRIJF_ID.match(new_id):
        raise RegisterError("nieuwLeerbedrijfId", f"'{new_id}' is not 1 to 12 digits")
    leerweg = _text(payload, "leerweg") or "BOL"
    if leerweg not in ("BOL", "BBL"):
        raise RegisterError("leerweg", f"'{leerweg}' is not BOL or BBL")
    mutation = Mutation(soort, leerbedrijf_id, ingangsdatum, crebo=crebo, toelichting=_text(payload, "toelichting"))
    if new_id is not None:
        mutation.oud_leerbedrijf_id, mutation.leerbedrijf_id = leerbedrijf_id, new_id
    return mutation, leerweg


def apply_event(sim: Simulator, payload: dict) -> list[Push]:
    """Apply the change; queue and return one push per matching subscription with an Afleveradres."""
    mutation, leerweg = _parse(payload, sim.today())
    register = sim.register
    with register.lock:
        old_id = mutation.oud_leerbedrijf_id or mutation.leerbedrijf_id
        company = register.company(old_id)
        if company is None:
            raise RegisterError("leerbedrijfId", f"{old_id} is not a known LeerbedrijfId")
        if mutation.soort == "ERKENNING_INGETROKKEN":
            register.withdraw(company, mutation.crebo, mutation.ingangsdatum,
                           mutation.toelichting or WITHDRAWAL_REASON_DEFAULT)
        elif mutation.soort == "ERKENNING_VERLEEND":
            register.grant(company, mutation.crebo, leerweg, mutation.ingangsdatum)
        elif mutation.soort == "LEERBEDRIJFID_GEWIJZIGD":
            register.change_id(company, mutation.leerbedrijf_id)
            sim.subscriptions.move(old_id, mutation.leerbedrijf_id)
        # ERKENNING_GEWIJZIGD and GEGEVENS_GEWIJZIGD change nothing the simulator shows: they are only pushed.
        return [sim.pushes.enqueue(s.abonnement_id, s.school_oin, s.afleveradres, mutation)
                for s in sim.subscriptions.matching(mutation.leerbedrijf_id, mutation.crebo) if s.afleveradres]
