"""The console driven in headless Chromium (Debian's, through Playwright; no browser is downloaded): a tester logs
in with the Authorization header, finds a call their test client made, opens its four messages and sees the
validation problem marked, sees a pushed withdrawal waiting and then delivered; every page is saved as a screenshot
(in the test's tmp dir; also in $WL_CONSOLE_SCREENSHOTS when set, which is how docs/img/ is made). Refusals without
or with wrong credentials, read-only, off by default, and no licence on any page."""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
import requests

from adapter.console.auth import sha256_hex
from adapter.tenants import licence_hash
from tests.support.mutations import (
    CompanyPool,
    fire,
    geef_mutaties,
    mutaties_of,
    sim_companies,
    verify,
    wait_acknowledged,
    wait_until,
)
from tests.support.servers import (
    LICENCE,
    OTHER_LICENCE,
    SCHOOL_OIN,
    Server,
    free_port,
    start_simulator_process,
    write_config,
)

TOKEN = "console-test-token-4f1d"
USER, PASSWORD = "tester", "wachtwoord-van-de-tester"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INVALID_ID = "tester-invalid-crebo-0001"
COUNT = 60


def console_config(workdir: Path, upstream_url: str, port: int) -> Path:
    config = write_config(workdir / "adapter.toml", upstream_url, f"sqlite:///{workdir / 'adapter.sqlite'}", port,
                          workers=2, extra=(f'\n[console]\nenabled = true\ntoken_sha256 = "{sha256_hex(TOKEN)}"\n'
                                            f'users = {{ {USER} = "sha256:{sha256_hex(PASSWORD)}" }}\n'))
    text = config.read_text().replace("[audit]\n", f'[audit]\nfile = "{workdir / "audit.jsonl"}"\n', 1)
    config.write_text(text)
    return config


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("console")
    sim = start_simulator_process(workdir / "sim.log", count=COUNT)
    adapter = None
    try:
        port = free_port()
        adapter = Server(["serve", "--config", str(console_config(workdir, f"{sim.url}/wl2", port))], port,
                         "/healthz", log=workdir / "adapter.log")
        adapter.wl1_url = f"{adapter.url}/wl1"
        yield sim, adapter
    finally:
        if adapter is not None:
            adapter.stop()
        sim.stop()


def invalid_verification(adapter) -> requests.Response:
    """A test client's call with a Crebonummer the XSD refuses, under a correlation id the tester chose."""
    body = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:w="urn:sbb:whitelabel:1.0">'
            f"<soap:Body><w:VerifieerAccreditatie><w:request><w:Licentie>{LICENCE}</w:Licentie>"
            "<w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf><w:Crebonummer>25l80</w:Crebonummer>"
            "<w:Peildatum>2026-11-29</w:Peildatum></w:request></w:VerifieerAccreditatie></soap:Body></soap:Envelope>")
    return requests.post(adapter.wl1_url, data=body.encode(), timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8", "X-Correlation-ID": INVALID_ID})


def test_credentials_are_required_and_the_console_is_read_only(rig):
    _, adapter = rig
    url = f"{adapter.url}/console"
    refused = requests.get(url, timeout=10)
    assert refused.status_code == 401
    assert set(refused.headers["WWW-Authenticate"].split(", ")) >= {'Bearer realm="wl-adapter console"'}
    assert "Basic" in refused.headers["WWW-Authenticate"] and "<form" not in refused.text
    for header in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {base64.b64encode(f'{USER}:fout'.encode()).decode()}",
                   f"Basic {base64.b64encode(f'iemand:{PASSWORD}'.encode()).decode()}", "Basic !!!", TOKEN,
                   f"Token {TOKEN}"):
        assert requests.get(url, headers={"Authorization": header}, timeout=10).status_code == 401, header
    assert requests.get(f"{url}/static/console.css", timeout=10).status_code == 401
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert requests.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=10).status_code == 200
    assert requests.get(url, headers=BEARER, timeout=10).status_code == 200
    posted = requests.post(url, headers=BEARER, data=b"x", timeout=10)
    assert posted.status_code == 405 and posted.headers["Allow"] == "GET, HEAD"
    page = requests.get(url, headers=BEARER, timeout=10)
    assert page.headers["Cache-Control"] == "no-store" and "default-src 'none'" in page.headers[
        "Content-Security-Policy"]


def test_the_console_is_off_by_default(adapter):
    assert requests.get(f"{adapter.url}/console", headers=BEARER, timeout=10).status_code == 404


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (tests/setup-system.sh installs it)")
def test_a_tester_follows_calls_and_pushes_in_the_browser(rig, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    sim, adapter = rig
    shots = tmp_path / "screenshots"
    shots.mkdir()
    company, (crebo, *_) = CompanyPool(sim_companies(sim, COUNT)).take()
    lb = company["leerbedrijfId"]

    # the test client's traffic: a good verification (which subscribes), a bad one, another school's call
    assert verify(adapter, LICENCE, lb, crebo)["Signaalcode"] == 0
    assert invalid_verification(adapter).status_code == 500
    assert verify(adapter, OTHER_LICENCE, lb, crebo)["Signaalcode"] == 0
    wait_until(lambda: [s for s in requests.get(f"{sim.url}/admin/abonnementen", timeout=5).json()["abonnementen"]
                        if s["schoolOin"] == SCHOOL_OIN], what="the school's subscription")
    pushes = [p for p in fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb, crebonummer=crebo,
                               ingangsdatum="2026-12-01", toelichting="Bedrijf gestopt")
              if p["schoolOin"] == SCHOOL_OIN]
    wait_acknowledged(sim, [p["mutatieId"] for p in pushes])

    pages: dict[str, str] = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(extra_http_headers=BEARER, viewport={"width": 1600, "height": 1000})
            page = context.new_page()

            def visit(path: str, name: str):
                response = page.goto(f"{adapter.url}{path}")
                assert response.status == 200, f"{path}: {response.status}"
                pages[name] = page.content()
                page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)

            visit("/console", "calls")
            row = page.locator("#calls tbody tr", has_text=INVALID_ID)
            assert row.count() == 1 and "VerifieerAccreditatie" in row.inner_text()
            assert page.locator("#calls tbody tr", has_text="ROC Ander").count() >= 1  # every school's calls

            page.select_option("select[name=school]", "ROC Test")
            page.check("input[name=problems]")
            page.click("button[type=submit]")
            assert page.locator("#calls tbody tr").count() == 1  # only the invalid call of this school
            pages["calls-filtered"] = page.content()

            page.click(f"a.call:text('{INVALID_ID}')")
            page.wait_for_selector("#wl1-request")
            for section in ("#wl1-request", "#wl2-request-1", "#wl2-response-1", "#wl1-response"):
                assert page.locator(section).is_visible(), section
            marked = page.locator("#wl1-request mark.problem")
            assert marked.count() == 1 and "Crebonummer" in marked.inner_text() and "25l80" in marked.inner_text()
            assert "Crebonummer" in page.locator(".problems").inner_text()
            pages["call-invalid"] = page.content()
            page.screenshot(path=str(shots / "console-call-invalid.png"), full_page=True)

            # a good call shows all four messages with content, WL 2.0 legs included
            visit("/console?school=ROC+Test&operation=VerifieerAccreditatie&signaalcode=0", "calls-ok")
            page.locator("a.call").first.click()
            page.wait_for_selector("#wl2-response-1 pre")
            assert "VerifieerAccreditatieRequest" in page.locator("#wl2-request-1").inner_text()
            assert "ERKEND" in page.locator("#wl2-response-1").inner_text()
            assert page.locator("mark.problem").count() == 0
            pages["call-ok"] = page.content()
            page.screenshot(path=str(shots / "console-call.png"), full_page=True)

            visit("/console/pushes", "pushes")
            withdrawal = page.locator("#pushes tbody tr", has_text="ERKENNING_INGETROKKEN").filter(has_text="ROC Test")
            assert withdrawal.count() == 1 and "waiting" in withdrawal.inner_text() and lb in withdrawal.inner_text()
            [mutatie] = mutaties_of(geef_mutaties(adapter, LICENCE, 0))
            assert mutatie["Soort"] == "INTREKKING"
            geef_mutaties(adapter, LICENCE, mutatie["Volgnummer"])  # the school read past it: delivered
            visit("/console/pushes", "pushes")
            assert "delivered" in page.locator("#pushes tbody tr", has_text="ERKENNING_INGETROKKEN").filter(
                has_text="ROC Test").inner_text()

            visit("/console/schools", "schools")
            school = page.locator("#schools tbody tr", has_text="ROC Test").inner_text()
            assert "VerifieerAccreditatie" in school and SCHOOL_OIN in school
            visit("/console/status", "status")
            assert "closed" in page.locator("#breaker").inner_text()
            assert page.locator("#policy td.mode-enforce").count() > 0
        finally:
            browser.close()

    for name, html in pages.items():  # the licence, or its hash, never on any page
        for secret in (LICENCE, OTHER_LICENCE, licence_hash(LICENCE), licence_hash(OTHER_LICENCE), TOKEN):
            assert secret not in html, f"{secret} on page {name}"
    copy_to = os.environ.get("WL_CONSOLE_SCREENSHOTS")
    if copy_to:
        for shot in shots.iterdir():
            shutil.copy(shot, Path(copy_to) / shot.name)
