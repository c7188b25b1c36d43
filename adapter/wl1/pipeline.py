"""The pipeline of one WL 1.0 call: licence -> tenant -> validate -> translate -> WL 2.0 -> translate back.

``Pipeline.handle`` returns the WL 1.0 result as a dict. Business outcomes raised by any stage are ``Outcome``s
(adapter/errors.py) that carry their signaalcode, mapped to an answer in one place here. It raises a
``SoapFault`` only for a request that violates the WL 1.0 XSD or the school's rate limit.
What the call did is written into its ``Call`` record, which the audit trail and the metrics read afterwards.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from lxml import etree

from adapter.config import Config
from adapter.contracts import WL1, Problem
from adapter.errors import Outcome, RateLimited, RequestInvalid, UpstreamError, UpstreamUnavailable
from adapter.store.voordrachten import proposal_key
from adapter.tenants import Tenants
from adapter.translate import to_wl1, to_wl2, values
from adapter.wl1 import message, xsitype
from adapter.wl1.call import Call
from adapter.wl1.resolve import resolve_code
from adapter.wl2.client import Exchange

log = logging.getLogger("wl_adapter.pipeline")
LICENTIE_MAX = 64  # xsd/wl1.xsd, type Licentie
VOORDRACHT_LEASE_MARGIN_S = 5.0  # a proposal being sent is waited for this long past the WL 2.0 deadline
VOORDRACHT_POLL_S = 0.2


class Pipeline:
    def __init__(self, config: Config, tenants: Tenants, store, upstream, subscriber=None, rate_limiter=None):
        self.config = config
        self.rate_limiter = rate_limiter
        self.tenants = tenants
        self.store = store
        self.upstream = upstream  # .for_tenant(tenant) -> Wl2Client
        self.subscriber = subscriber  # .want(...) after a verification that answered recognised
        self._operations = {
            "GeefBedrijfsgegevens": self._geef_bedrijfsgegevens,
            "VerifieerAccreditatie": self._verifieer_accreditatie,
            "Zoeken": self._zoeken,
            "GeefDetails": self._geef_details,
            "GeefMutaties": self._geef_mutaties,
            "DoeErkenningsvoordracht": self._doe_erkenningsvoordracht,
        }

    # -- the pipeline -------------------------------------------------------------------------------------
    def handle(self, operation: str, body: etree._Element, call: Call) -> dict:
        mode = self.config.validation.mode("wl1_request", operation)
        # xsi:type as ASMX accepted it, before anything reads the request (refusals join the schema problems)
        type_problems = xsitype.tolerate(body) if mode != "off" else []
        licence = message.licence_of(body)
        if licence is None or not 1 <= len(licence) <= LICENTIE_MAX:
            # no valid licence to check: the XSD names what is wrong (a 996 would hide the mistake)
            call.request_problems = type_problems + WL1.validate(body) or [Problem("Licentie", "missing")]
            raise RequestInvalid(call.request_problems)
        call.tenant = self.tenants.by_licence(licence)
        if call.tenant is None:
            return self._done(call, to_wl1.outcome(996))
        if self.rate_limiter is not None and not self.rate_limiter.allow(call.tenant.oin):
            call.rate_limited = True
            raise RateLimited(f"too many requests for this school (limit {self.rate_limiter.per_second:g}/s); "
                              "retry later")
        if mode != "off":
            call.request_problems = type_problems + WL1.validate(body)
            if call.request_problems:
                if mode == "enforce":
                    raise RequestInvalid(call.request_problems)
                log.warning("WL 1.0 %s request violates the XSD (passed on, mode report): %s", operation,
                            "; ".join(map(str, call.request_problems)))
        try:
            request = message.to_dict(message.request_of(body))
            result = self._operations[operation](call, request)
        except Outcome as exc:
            if isinstance(exc, (UpstreamUnavailable, UpstreamError)):
                log.warning("WL 2.0 %s for %s: %s", "unavailable" if exc.signaalcode == 998 else "error",
                            operation, exc)
            result = to_wl1.outcome_of(exc)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            if not call.request_problems and mode == "enforce":
                raise  # a valid request must not fail here: that is our bug, a soap:Server fault
            # a request passed on despite its problems (report/off) that cannot be translated
            element = str(exc).strip("'") if isinstance(exc, KeyError) else None
            result = to_wl1.outcome(4, f"{element}: ontbreekt" if element else "Ongeldige invoer")
        return self._done(call, result)

    @staticmethod
    def _done(call: Call, result: dict) -> dict:
        call.signaalcode = result["Signaalcode"]
        return result

    def _wl2(self, call: Call, operation: str, body: dict) -> dict:
        exchange = Exchange(operation, wl1_operation=call.operation)
        call.exchanges.append(exchange)
        return self.upstream.for_tenant(call.tenant).call(operation, call.tenant.oin, body, exchange)

    def _resolve(self, call: Call, code: str) -> str:
        return resolve_code(code, self.store, lambda body: self._wl2(call, "ZoekenLeerbedrijfOfLeerplaats", body))

    # -- the operations -----------------------------------------------------------------------------------
    def _geef_bedrijfsgegevens(self, call: Call, req: dict) -> dict:
        return to_wl1.identificeer(self._wl2(call, "IdentificeerLeerbedrijf", to_wl2.identificeer(req)))

    def _verifieer_accreditatie(self, call: Call, req: dict) -> dict:
        leerbedrijf_id = self._resolve(call, req["CodeLeerbedrijf"])
        result = to_wl1.verifieer(self._wl2(call, "VerifieerAccreditatie", to_wl2.verifieer(req, leerbedrijf_id)))
        if result["Signaalcode"] == 0 and self.config.mutations.subscribe_after_verify and self.subscriber:
            self.subscriber.want(call.tenant.oin, leerbedrijf_id, values.crebo_to_wl2(req["Crebonummer"]))
        return result

    def _zoeken(self, call: Call, req: dict) -> dict:
        code = req.get("CodeLeerbedrijf")  # present means given, even when blank (resolving refuses that)
        leerbedrijf_id = self._resolve(call, code) if code is not None else None
        return to_wl1.zoeken(self._wl2(call, "ZoekenLeerbedrijfOfLeerplaats", to_wl2.zoeken(req, leerbedrijf_id)))

    def _geef_details(self, call: Call, req: dict) -> dict:
        if "CodeLeerbedrijf" in req:  # the XSD's choice: this one or LeerplaatsId, never both, never neither
            leerbedrijf_id = self._resolve(call, req["CodeLeerbedrijf"])
            body = self._wl2(call, "OpvragenDetailgegevensLeerbedrijf", to_wl2.details(req, leerbedrijf_id))
            return to_wl1.details(body, None)
        body = self._wl2(call, "OpvragenDetailgegevensLeerbedrijf", to_wl2.details(req, None))
        return to_wl1.details(body, req["LeerplaatsId"])

    def _geef_mutaties(self, call: Call, req: dict) -> dict:
        vanaf = req["VanafVolgnummer"]
        rows = self.store.mutations_after(call.tenant.oin, vanaf, req.get("MaximumAantal", 100))
        mutaties = [to_wl1.mutatie({"volgnummer": r.volgnummer, **r.mutation.as_dict()}) for r in rows]
        result = {**to_wl1.outcome(0), "LaatsteVolgnummer": mutaties[-1]["Volgnummer"] if mutaties else vanaf}
        if mutaties:
            result["Mutaties"] = {"Mutatie": mutaties}
        return result

    def _doe_erkenningsvoordracht(self, call: Call, req: dict) -> dict:
        """Never sent twice: a repeat within 24 hours answers the first VoordrachtId, and an identical proposal
        that arrives while one is being sent waits for that one (a school system that timed out and retries)."""
        body = to_wl2.voordracht(req)  # an address that cannot be split is answered 4 before anything is stored
        key = proposal_key(body.get("KvkNummer"), body["Bedrijfsnaam"], body["Vestigingsadres"]["Postcode"],
                           body["Crebonummer"], body["Leerweg"])
        oin = call.tenant.oin
        lease = timedelta(seconds=self.config.upstream.deadline_s + VOORDRACHT_LEASE_MARGIN_S)
        give_up = time.monotonic() + lease.total_seconds()
        while True:
            claim = self.store.claim_voordracht(oin, key, lease)
            if claim.voordracht_id:
                return {**to_wl1.outcome(0), "VoordrachtId": claim.voordracht_id}
            if claim.mine:
                break
            if time.monotonic() >= give_up:
                return to_wl1.outcome(998, "Dezelfde voordracht wordt nog verwerkt; probeer het later opnieuw")
            time.sleep(VOORDRACHT_POLL_S)
        try:
            result = to_wl1.voordracht(self._wl2(call, "DoeErkenningsvoordracht", body))
        except BaseException:
            self.store.release_voordracht(oin, key)  # not made: a retry by the school sends it
            raise
        if result["Signaalcode"] == 0:
            try:
                self.store.complete_voordracht(oin, key, result["VoordrachtId"])
            except Exception:  # noqa: BLE001 - the proposal was made: the school gets its VoordrachtId regardless
                log.exception("could not remember proposal %s; a repeat may be sent again", result["VoordrachtId"])
        else:
            self.store.release_voordracht(oin, key)
        return result
