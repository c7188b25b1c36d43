"""The school side of WL 2.0: receives pushed ``MutatieLeerbedrijf`` messages at the Afleveradres.

First the sender must be SBB, authenticated by its certificate (``auth.py``): anyone else gets HTTP 403 and a
fault, and the message is not even parsed. Then WS-Addressing is checked (wsa:From must be SBB's OIN, wsa:To a
configured school), the body validated against the WL 2.0 XSD, the mutation stored durably, and only then
acknowledged with signaalcode 0. A repeated MutatieId is acknowledged again and stored once. A push that cannot be
stored gets a soap:Server fault, so SBB retries it. Every push answered is logged with the sender's subject, and its
record (``push.py``) handed to the listeners: the audit trail (type ``wl2_push``) and the metrics.
"""
from __future__ import annotations

import logging
import uuid

from adapter.contracts import WL2
from adapter.errors import InvalidInput, PushRefused
from adapter.mutations.auth import UNAUTHENTICATED, PushAuthenticator
from adapter.mutations.push import Push, PushListeners
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
    def __init__(self, store, tenants: Tenants, sbb_oin: str, authenticator: PushAuthenticator,
                 listeners: PushListeners | None = None):
        self.store = store
        self.tenants = tenants
        self.sbb_oin = sbb_oin
        self.authenticator = authenticator
        self.listeners = listeners or PushListeners()  # told of every push answered (audit trail, metrics)

    def __call__(self, environ, start_response):
        push = Push(peer=environ.get("REMOTE_ADDR", ""))
        try:
            return self._answer(push, environ, start_response)
        finally:
            self.listeners.done(push)

    def _answer(self, push: Push, environ, start_response):
        try:
            push.subject = self.authenticator.authenticate(environ)
        except PushRefused as exc:
            push.refused = exc.reason
            log.warning("push refused from %s: %s", push.peer, exc.reason)
            return self._reply(start_response, "403 Forbidden", soap.fault_bytes(exc.code, exc.string))
        try:
            self._receive(push, environ["wsgi.input"].read())
        except soap.SoapFault as exc:
            push.fault = f"{exc.code}: {exc.string}"
            return self._fault(start_response, exc.code, exc.string, push.message_id)
        except Exception:  # noqa: BLE001 - anything else: not stored, SBB must retry
            log.exception("push could not be stored")
            push.fault = "Server: not stored"
            return self._fault(start_response, "Server", "the mutation could not be stored; please retry",
                               push.message_id)
        self._log(push)
        code = push.signaalcode
        signalering = {"Signaalcode": code, "Signaaltekst": SIGNAALTEKST[code], "Foutmelding": push.foutmelding}
        answer = xmlbuild.message(f"{OPERATION}Response", {"BerichtID": str(uuid.uuid4()), "Signalering": signalering})
        envelope = soap.envelope(answer, addressing.response_headers(addressing.action(OPERATION) + "Response",
                                                                     push.message_id))
        return self._reply(start_response, "200 OK", soap.to_bytes(envelope))

    def _receive(self, push: Push, data: bytes) -> None:
        _root, header, body = soap.parse_envelope(data)
        push.message_id = addressing.message_id_of(header)
        if body.tag != f"{{{WL2.namespace}}}{OPERATION}Request":
            raise soap.SoapFault("Client", f"this endpoint only accepts {OPERATION}Request")
        wsa = addressing.read(header, OPERATION)
        problems = WL2.validate(body)
        if problems:
            raise soap.SoapFault("Client", "the message does not match the WL 2.0 schema: "
                                 + "; ".join(map(str, problems)))
        self._process(wsa, body, push)

    @staticmethod
    def _log(push: Push) -> None:
        """One line per push answered with a signaalcode, naming who sent it."""
        m, school = push.mutation, push.tenant.name if push.tenant is not None else "-"
        if push.signaalcode == 0:
            log.log(logging.WARNING if push.subject == UNAUTHENTICATED else logging.INFO,
                    "push accepted: school=%s mutatie_id=%s soort=%s %s subject=%s", school, m.mutatie_id, m.soort,
                    push.outcome, push.subject)
        else:
            log.warning("push answered %s: school=%s %s subject=%s", push.signaalcode, school, push.foutmelding,
                        push.subject)

    def _process(self, wsa: addressing.Addressing, body, push: Push) -> None:
        def answer(code: int, foutmelding: str | None = None) -> None:
            push.signaalcode, push.foutmelding = code, foutmelding

        if wsa.from_oin != self.sbb_oin:
            return answer(90, f"wsa:From: OIN {wsa.from_oin} is not SBB's")
        tenant = push.tenant = self.tenants.by_oin(wsa.to_oin)
        if tenant is None:
            return answer(90, f"wsa:To: OIN {wsa.to_oin} is not a school served here")
        fields: dict = {_FIELDS[el.tag.rpartition("}")[2]]: el.text or ""
                        for el in body if isinstance(el.tag, str) and el.tag.rpartition("}")[2] in _FIELDS}
        fields = {k: v if k == "toelichting" else v.strip() for k, v in fields.items()}  # Toelichting verbatim
        if fields["soort"] == "LEERBEDRIJFID_GEWIJZIGD" and not fields.get("oud_leerbedrijf_id"):
            return answer(20, "OudLeerbedrijfId: verplicht bij LEERBEDRIJFID_GEWIJZIGD")
        if fields.get("crebo") == "00000":  # a legacy client could never be told this one (WL 1.0 crebo >= 1)
            return answer(20, "Crebonummer: 00000 is geen crebonummer")
        try:
            fields["ingangsdatum"] = xs_date(fields["ingangsdatum"], "Ingangsdatum")
        except InvalidInput as exc:
            return answer(20, f"{exc.element}: {exc.reason}")
        mutation = push.mutation = Mutation(**fields)
        # an ID change also updates the code mapping, in the same transaction
        push.created = self.store.store_mutation(tenant.oin, mutation).created
        return answer(0)

    def _fault(self, start_response, code: str, string: str, relates_to: str | None):
        headers = addressing.response_headers(addressing.FAULT_ACTION, relates_to)
        return self._reply(start_response, "500 Internal Server Error", soap.fault_bytes(code, string, headers))

    @staticmethod
    def _reply(start_response, status: str, body: bytes):
        start_response(status, [("Content-Type", soap.CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]
