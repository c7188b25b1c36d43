"""The OpenAPI 3.1 document of the simulator's admin API (GET /admin/openapi.json).

Testers load it into the tools they know (Swagger UI, Postman, Insomnia) instead of reading curl examples; a test
calls every operation it lists with its examples and checks each answer against the schemas here, and checks that
every admin route is listed, so the document cannot drift from the code.
"""
from __future__ import annotations

from functools import lru_cache

from adapter.simulator.events import SOORTEN
from adapter.simulator.operations import OPERATIONS
from adapter.simulator.scenarios import NETWORK_FAULTS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _array_of(key: str, item: str, description: str) -> dict:
    return _json({"type": "object", "required": [key], "properties": {key: {"type": "array", "items": _ref(item)}}},
                 description)


def _query(name: str, description: str, schema: dict, example=None) -> dict:
    p = {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
    if example is not None:
        p["example"] = example
    return p


BAD_REQUEST = _json(_ref("Error"), "the input is wrong; `field` names it")
NULLABLE_STRING = {"type": ["string", "null"]}
LIMIT = _query("limit", "at most this many (newest first)", {"type": "integer", "minimum": 1, "maximum": 1000,
                                                             "default": 50}, 20)

SCHEMAS: dict = {
    "Error": {"type": "object", "required": ["error", "field"],
              "properties": {"error": {"type": "string"}, "field": NULLABLE_STRING}},
    "Health": {"type": "object", "required": ["status", "leerbedrijven", "seed", "oin", "today"], "properties": {
        "status": {"const": "ok"}, "leerbedrijven": {"type": "integer"}, "seed": {"type": "integer"},
        "oin": {"type": "string", "pattern": "^[0-9A-Za-z]{20}$"}, "today": {"type": "string", "format": "date"}}},
    "Address": {"type": ["object", "null"], "required": ["straat", "huisnummer", "postcode", "plaats", "land"],
                "properties": {"straat": {"type": "string"}, "huisnummer": {"type": "integer"},
                               "huisnummertoevoeging": NULLABLE_STRING, "postcode": {"type": "string"},
                               "plaats": {"type": "string"}, "land": {"type": "string"}}},
    "Leerbedrijf": {"type": "object", "required": ["leerbedrijfId", "naam", "erkenningen", "leerplaatsen"],
                    "properties": {
                        "leerbedrijfId": {"type": "string"}, "naam": {"type": "string"},
                        "codeLeerbedrijf": {**NULLABLE_STRING, "description": "the old WL 1.0 code, if any"},
                        "kvkNummer": NULLABLE_STRING, "vestigingsadres": _ref("Address"),
                        "correspondentieadres": _ref("Address"),
                        "erkenningen": {"type": "array", "items": {
                            "type": "object", "required": ["crebonummer", "leerweg", "status", "begindatum"],
                            "properties": {"crebonummer": {"type": "string"}, "leerweg": {"enum": ["BOL", "BBL"]},
                                           "status": {"enum": ["ERKEND", "INGETROKKEN", "NIET_ERKEND"]},
                                           "begindatum": {"type": "string"}, "einddatum": NULLABLE_STRING}}},
                        "leerplaatsen": {"type": "array", "items": {
                            "type": "object", "required": ["leerplaatsId", "crebonummer", "open"],
                            "properties": {"leerplaatsId": {"type": "integer"}, "crebonummer": {"type": "string"},
                                           "open": {"type": "boolean"}}}}}},
    "LeerbedrijvenPage": {"type": "object", "required": ["total", "offset", "leerbedrijven"], "properties": {
        "total": {"type": "integer"}, "offset": {"type": "integer"},
        "leerbedrijven": {"type": "array", "items": _ref("Leerbedrijf")}}},
    "Event": {"type": "object", "required": ["soort", "leerbedrijfId"], "additionalProperties": False,
              "properties": {
                  "soort": {"enum": list(SOORTEN)},
                  "leerbedrijfId": {"type": "string", "description": "must exist"},
                  "crebonummer": {"type": "string", "description": "required for the ERKENNING_ kinds"},
                  "ingangsdatum": {"type": "string", "format": "date", "description": "default today"},
                  "nieuwLeerbedrijfId": {"type": "string", "description": "only for LEERBEDRIJFID_GEWIJZIGD"},
                  "toelichting": {"type": "string"},
                  "leerweg": {"enum": ["BOL", "BBL"], "description": "ERKENNING_VERLEEND, default BOL"}}},
    "Push": {"type": "object", "required": ["mutatieId", "abonnementId", "schoolOin", "afleveradres", "soort",
                                            "leerbedrijfId", "ingangsdatum", "state", "attempts"],
             "properties": {
                 "mutatieId": {"type": "string"}, "abonnementId": {"type": "string"},
                 "schoolOin": {"type": "string"}, "afleveradres": {"type": "string"},
                 "soort": {"enum": list(SOORTEN)}, "leerbedrijfId": {"type": "string"},
                 "oudLeerbedrijfId": NULLABLE_STRING, "crebonummer": NULLABLE_STRING,
                 "ingangsdatum": {"type": "string"}, "toelichting": NULLABLE_STRING,
                 "state": {"enum": ["pending", "acknowledged", "failed"]}, "attempts": {"type": "integer"},
                 "lastError": NULLABLE_STRING, "queuedAt": {"type": "string"}, "finishedAt": NULLABLE_STRING}},
    "JournalEntry": {
        "type": "object",
        "required": ["id", "time", "kind", "operation", "oin", "request", "response", "validationErrors"],
        "properties": {
            "id": {"type": "integer", "description": "rises with every entry"},
            "time": {"type": "string", "description": "UTC, ISO 8601 with milliseconds"},
            "kind": {"enum": ["call", "push"], "description": "a SOAP call to the simulator, or a push it sent"},
            "operation": NULLABLE_STRING, "oin": NULLABLE_STRING,
            "httpStatus": {"type": ["integer", "null"]},
            "fault": {"type": ["string", "null"], "description": "the network fault a scenario acted out"},
            "request": NULLABLE_STRING, "response": NULLABLE_STRING,
            "validationErrors": {"type": "array", "items": {"type": "string"}},
            "push": {"type": "object", "description": "kind push: which push, which attempt, what came of it",
                     "required": ["mutatieId", "attempt", "outcome"],
                     "properties": {"mutatieId": {"type": "string"}, "abonnementId": {"type": "string"},
                                    "afleveradres": {"type": "string"}, "soort": {"type": "string"},
                                    "attempt": {"type": "integer"},
                                    "outcome": {"enum": ["pending", "acknowledged", "failed"]},
                                    "error": NULLABLE_STRING}}}},
    "Abonnement": {"type": "object", "required": ["abonnementId", "schoolOin", "leerbedrijfId", "sinds"],
                   "properties": {"abonnementId": {"type": "string"}, "schoolOin": {"type": "string"},
                                  "leerbedrijfId": {"type": "string"}, "crebonummer": NULLABLE_STRING,
                                  "afleveradres": NULLABLE_STRING, "sinds": {"type": "string"}}},
    "Voordracht": {"type": "object", "required": ["voordrachtId", "schoolOin", "crebonummer"],
                   "properties": {"voordrachtId": {"type": "string"}, "schoolOin": {"type": "string"},
                                  "ontvangen": {"type": "string"}, "bedrijfsnaam": {"type": "string"},
                                  "kvkNummer": NULLABLE_STRING, "crebonummer": {"type": "string"},
                                  "leerweg": {"type": "string"}, "toelichting": NULLABLE_STRING,
                                  "vestigingsadres": {
                                      "type": ["object", "null"],
                                      "description": "as received: straat, huisnummer, huisnummertoevoeging, "
                                                     "postcode, plaats, land",
                                      "additionalProperties": NULLABLE_STRING},
                                  "contactpersoon": {"type": ["object", "null"],
                                                     "description": "as received: naam, email, telefoonnummer",
                                                     "additionalProperties": NULLABLE_STRING}}},
    "Scenario": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "operation": {"enum": ["*", *OPERATIONS], "description": "one operation, or * for all"},
            "latency_ms": {"type": "integer", "minimum": 0, "maximum": 120000},
            "error_rate": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "share of calls answered with a soap:Server fault"},
            "signaalcode": {"type": "integer", "description": "answer this signaalcode without running the operation"},
            "malformed": {"type": "boolean", "description": "HTTP 200 with a body that is not XML"},
            "fault": {"enum": list(NETWORK_FAULTS), "description": (
                "refuse: the SOAP port refuses connections (operation * only); reset: the connection is aborted "
                "with a TCP RST; http503: HTTP 503 with an HTML page; hang: no answer until the client gives up; "
                "slow_body: the answer drips in one byte every 0.5 s")},
            "count": {"type": "integer", "minimum": 1, "description": "the next N calls only (not for refuse)"},
            "duration_ms": {"type": "integer", "minimum": 1, "maximum": 600000,
                            "description": "refuse: reopen after; hang: give up after (default 60 s)"}}},
    "ActiveScenarios": {"type": "object", "required": ["scenarios"], "properties": {
        "scenarios": {"type": "object", "additionalProperties": {"type": "object"}}}},
    "Reset": {"type": ["object", "null"], "additionalProperties": False, "properties": {
        "seed": {"type": "integer", "minimum": 0}, "leerbedrijven": {"type": "integer", "minimum": 1,
                                                                       "maximum": 500000}}},
}

EXAMPLE_EVENT = {"soort": "GEGEVENS_GEWIJZIGD", "leerbedrijfId": "100001"}
EXAMPLE_SCENARIO = {"operation": "VerifieerAccreditatie", "fault": "http503", "count": 2}


@lru_cache(maxsize=1)
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "WL 2.0 simulator admin API", "version": "1",
                 "description": "Look inside the simulator, change its data, inject faults, reset it between test "
                                "runs. See docs/simulator.md."},
        "paths": {
            "/admin/health": {"get": {"summary": "is it up; size, seed, OIN and 'today' of the data set",
                                      "responses": {"200": _json(_ref("Health"), "up")}}},
            "/admin/leerbedrijven": {"get": {
                "summary": "companies with every field, old code and statuses today; or one by leerbedrijfId",
                "parameters": [
                    _query("offset", "skip this many", {"type": "integer", "minimum": 0, "default": 0}, 0),
                    _query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                           2),
                    _query("leerbedrijfId", "just this company", {"type": "string"})],
                "responses": {"200": _json({"oneOf": [_ref("LeerbedrijvenPage"), _ref("Leerbedrijf")]},
                                           "a page, or the one company asked for"),
                              "400": BAD_REQUEST, "404": _json(_ref("Error"), "no such LeerbedrijfId")}}},
            "/admin/events": {"post": {
                "summary": "a change at SBB: applied to the register and pushed to every matching subscription",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("Event"), "example": EXAMPLE_EVENT}}},
                "responses": {"200": _array_of("mutaties", "Push", "one push per matching subscription"),
                              "400": BAD_REQUEST}}},
            "/admin/pushes": {"get": {"summary": "every push with its state and attempts",
                                      "responses": {"200": _array_of("pushes", "Push", "all pushes")}}},
            "/admin/messages": {"get": {"summary": "the newest SOAP calls (the journal's calls only)",
                                        "parameters": [LIMIT],
                                        "responses": {"200": _array_of("messages", "JournalEntry", "newest first"),
                                                      "400": BAD_REQUEST}}},
            "/admin/journal": {"get": {
                "summary": "SOAP calls and push attempts with their acknowledgements, newest first, filtered",
                "parameters": [
                    _query("operation", "only this operation (MutatieLeerbedrijf for pushes)", {"type": "string"},
                           "VerzoekAbonnementMutaties"),
                    _query("oin", "only this school OIN (the caller; the receiver of a push)", {"type": "string"}),
                    _query("since", "only entries at or after this UTC time", {"type": "string",
                                                                              "format": "date-time"},
                           "2020-01-01T00:00:00Z"),
                    _query("kind", "only calls or only pushes", {"enum": ["call", "push"]}), LIMIT],
                "responses": {"200": _array_of("entries", "JournalEntry", "newest first"), "400": BAD_REQUEST}}},
            "/admin/abonnementen": {"get": {"summary": "every school's subscriptions",
                                            "responses": {"200": _array_of("abonnementen", "Abonnement", "all")}}},
            "/admin/voordrachten": {"get": {
                "summary": "received DoeErkenningsvoordracht, oldest first",
                "parameters": [_query("schoolOin", "only this school's proposals", {"type": "string"},
                                      "0000000700025BE00000")],
                "responses": {"200": _array_of("voordrachten", "Voordracht", "all, or one school's")}}},
            "/admin/scenario": {
                "get": {"summary": "the active scenarios", "responses": {"200": _json(_ref("ActiveScenarios"),
                                                                                    "by operation")}},
                "post": {"summary": "inject a fault for one operation or all ('*')",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": _ref("Scenario"), "example": EXAMPLE_SCENARIO}}},
                         "responses": {"200": _json(_ref("ActiveScenarios"), "now active"), "400": BAD_REQUEST}},
                "delete": {"summary": "clear every scenario (a refused port opens again)",
                           "responses": {"200": _json(_ref("ActiveScenarios"), "none active")}}},
            "/admin/reset": {"post": {
                "summary": "back to a fresh start: the seed's data, no subscriptions, pushes, proposals or "
                           "scenarios, an empty journal; optionally another seed or size",
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": _ref("Reset"), "example": {}}}},
                "responses": {"200": _json(_ref("Health"), "reset done"), "400": BAD_REQUEST}}},
            "/admin/openapi.json": {"get": {"summary": "this document",
                                            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
        },
        "components": {"schemas": SCHEMAS},
    }
