"""The school side of WL 2.0: receives pushed ``MutatieLeerbedrijf`` messages at the Afleveradres.

Checks WS-Addressing (wsa:From must be SBB's OIN, wsa:To a configured school), validates against the WL 2.0 XSD,
stores the mutation durably, and only then acknowledges with signaalcode 0. A repeated MutatieId is acknowledged
again and stored once. A push that cannot be stored gets a soap:Server fault, so SBB retries it.
"""
from __future__ import annotations

import logging
import uuid

from adapter.contracts import WL2
from adapter.errors import InvalidInput
from adapter.soap import addressing, xmlbuild
from adapter.soap import envelope as soap
from adapter.store import Mutation
from adapter.tenants import Tenants
from adapter.translate.values import xs_date

log = logging.getLogger("wl_adapter.receiver")

OPERATION = "MutatieLeerbedrijf"
SIGNAALTEKST = {0: "Verwerkt", 20: "Ongeldige invoer", 90: "Niet geautoriseerd"}
_FIELDS = {  # element -> Mutation field
    "MutatieId": "mutatie_id", "AbonnementId": "abonnement_id", "Soort": "soort", "LeerbedrijfId": "leerbedrijf_id",
    "OudLeerbedrijfId": "oud_leerbedrijf_id", "Crebonummer": "crebo", "Ingangsdatum": "ingangsdatum",
    "Toelichting": "toelichting",
}


class MutationReceiver:
    def __init__(self, store, tenants: Tenants, sbb_oin: str, on_stored=None):
        self.store = store
        self.tenants = tenants
        self.sbb_oin = sbb_oin
        self.on_stored = on_stored  # callback(tenant_oin, stored, mutation) for metrics/audit

    def __call__(self, environ, start_response):
        data = environ["wsgi.input"].read()
        relates_to = None
        try:
            _root, header, body = soap.parse_envelope(data)
            relates_to = addressing.message_id_of(header)
            if body.tag != f"{{{WL2.namespace}}}{OPERATION}Request":
                raise soap.SoapFault("Client", f"this endpoint only accepts {OPERATION}Request")
            wsa = addressing.read(header, OPERATION)
            problems = WL2.validate(body)
            if problems:
                raise soap.SoapFault("Client", "the message does not match the WL 2.0 schema: "
                                     + "; ".join(map(str, problems)))
            code, foutmelding = self._process(wsa, body)
        except soap.SoapFault as exc:
            return self._fault(start_response, exc.code, exc.string, relates_to)
        except Exception:  # noqa: BLE001 - anything else: not stored, SBB must retry
            log.exception("push could not be stored")
            return self._fault(start_response, "Server", "the mutation could not be stored; please retry", relates_to)
        signalering = {"Signaalcode": code, "Signaaltekst": SIGNAALTEKST[code], "Foutmelding": foutmelding}
        answer = xmlbuild.message(f"{OPERATION}Response", {"BerichtID": str(uuid.uuid4()), "Signalering": signalering})
        envelope = soap.envelope(answer, addressing.response_headers(addressing.action(OPERATION) + "Response",
                                                                     relates_to))
        return self._reply(start_response, "200 OK", soap.to_bytes(envelope))

    def _process(self, wsa: addressing.Addressing, body) -> tuple[int, str | None]:
        if wsa.from_oin != self.sbb_oin:
            return 90, f"wsa:From: OIN {wsa.from_oin} is not SBB's"
        tenant = self.tenants.by_oin(wsa.to_oin)
        if tenant is None:
            return 90, f"wsa:To: OIN {wsa.to_oin} is not a school served here"
        fields: dict = {_FIELDS[el.tag.rpartition("}")[2]]: el.text or ""
                  for el in body if isinstance(el.tag, str) and el.tag.rpartition("}")[2] in _FIELDS}
        fields = {k: v if k == "toelichting" else v.strip() for k, v in fields.items()}  # Toelichting verbatim
        if fields["soort"] == "LEERBEDRIJFID_GEWIJZIGD" and not fields.get("oud_leerbedrijf_id"):
            return 20, "OudLeerbedrijfId: verplicht bij LEERBEDRIJFID_GEWIJZIGD"
        if fields.get("crebo") == "00000":  # a legacy client could never be told this one (WL 1.0 crebo >= 1)
            return 20, "Crebonummer: 00000 is geen crebonummer"
        try:
            fields["ingangsdatum"] = xs_date(fields["ingangsdatum"], "Ingangsdatum")
        except InvalidInput as exc:
            return 20, f"{exc.element}: {exc.reason}"
        mutation = Mutation(**fields)
        stored = self.store.store_mutation(tenant.oin, mutation)  # an ID change also updates the code mapping
        if self.on_stored:
            self.on_stored(tenant.oin, stored, mutation)
        return 0, None

    def _fault(self, start_response, code: str, string: str, relates_to: str | None):
        headers = addressing.response_headers(addressing.FAULT_ACTION, relates_to)
        return self._reply(start_response, "500 Internal Server Error", soap.fault_bytes(code, string, headers))

    @staticmethod
    def _reply(start_response, status: str, body: bytes):
        start_response(status, [("Content-Type", soap.CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]
