"""The admin API's OpenAPI document is checked against the real endpoints: it is a valid OpenAPI 3.1 document,
every admin route is in it, and every operation in it, called with its documented examples, answers a documented
status with a body that matches the documented schema (and bad input answers the documented 400)."""
from __future__ import annotations

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from adapter.simulator.admin import ROUTES
from tests.support.mutations import wait_until
from tests.support.servers import free_port, start_simulator_process
from tests.support.simulator import SimClient

DOC_URI = "urn:wl-simulator:openapi"
ORDER = {"get": 0, "post": 1, "delete": 2}  # read first, change after; reset last (it empties the journal)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("openapi") / "sim.log", count=20)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def doc(sim) -> dict:
    r = requests.get(f"{sim.url}/admin/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


def operations(doc: dict) -> list[tuple[str, str, dict]]:
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    return sorted(ops, key=lambda o: (o[0] == "/admin/reset", ORDER[o[1]], o[0]))


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def assert_matches(doc: dict, response: requests.Response, path: str, method: str) -> None:
    """The answer's status is documented for this operation and its body matches that status's schema."""
    where = f"{method.upper()} {response.request.url}: HTTP {response.status_code}"
    documented = doc["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{where} is not a documented answer: {response.text[:300]}"
    registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, DRAFT202012))
    schema = {"$ref": DOC_URI + _pointer("paths", path, method, "responses", status, "content", "application/json",
                                         "schema")}
    errors = sorted(Draft202012Validator(schema, registry=registry).iter_errors(response.json()), key=str)
    assert not errors, f"{where} does not match its schema: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_the_document_is_valid_openapi(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_every_admin_route_is_documented_and_nothing_else(doc):
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert documented == set(ROUTES)


def test_every_documented_operation_answers_as_documented(sim, doc):
    # something in every list: a subscription (pushing to a closed port), a proposal, an event and its push
    client = SimClient(sim)
    client.call("VerzoekAbonnementMutaties", LeerbedrijfId="100001", Afleveradres=f"http://127.0.0.1:{free_port()}/m")
    client.call("DoeErkenningsvoordracht", Bedrijfsnaam="Bakkerij Test", Crebonummer="25180", Leerweg="BOL",
                Vestigingsadres={"Straat": "Kerkstraat", "Huisnummer": 3, "Postcode": "3511AB", "Plaats": "Utrecht",
                                 "Land": "NL"})
    requests.post(f"{sim.url}/admin/events", json={"soort": "GEGEVENS_GEWIJZIGD", "leerbedrijfId": "100001"},
                  timeout=5).raise_for_status()
    wait_until(lambda: client.admin("journal?kind=push").json()["entries"], what="a push attempt in the journal")
    for path, method, op in operations(doc):
        params = {p["name"]: p["example"] for p in op.get("parameters", []) if "example" in p}
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        r = requests.request(method, f"{sim.url}{path}", params=params, timeout=30,
                             json=body if "requestBody" in op else None)
        assert r.status_code == 200, f"{method} {path}: {r.text[:300]}"
        lists = [v for v in r.json().values() if isinstance(v, list)] if isinstance(r.json(), dict) else []
        assert all(lists), f"{method} {path}: an empty list proves little about its schema"
        assert_matches(doc, r, path, method)
        if "400" in op["responses"] and "requestBody" in op:
            bad = requests.request(method, f"{sim.url}{path}", json={"no such field": 1}, timeout=10)
            assert bad.status_code == 400, f"{method} {path} with an unknown field: {bad.text[:300]}"
            assert_matches(doc, bad, path, method)
    one = requests.get(f"{sim.url}/admin/leerbedrijven", params={"leerbedrijfId": "100001"}, timeout=10)
    assert_matches(doc, one, "/admin/leerbedrijven", "get")
    missing = requests.get(f"{sim.url}/admin/leerbedrijven", params={"leerbedrijfId": "999"}, timeout=10)
    assert missing.status_code == 404
    assert_matches(doc, missing, "/admin/leerbedrijven", "get")
