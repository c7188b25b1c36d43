"""The adapter in front of the simulator: each operation once through a zeep client that loaded the served WSDL."""
from tests.support.servers import LICENCE, TODAY


def test_verifieer_accreditatie_recognised(wl1, companies):
    company = next(c for c in companies if any(e["status"] == "ERKEND" and not e["einddatum"]
                                               for e in c["erkenningen"]))
    erkenning = next(e for e in company["erkenningen"] if e["status"] == "ERKEND" and not e["einddatum"])
    result = wl1.VerifieerAccreditatie(request={"Licentie": LICENCE, "CodeLeerbedrijf": company["leerbedrijfId"],
                                                "Crebonummer": int(erkenning["crebonummer"]), "Peildatum": TODAY})
    assert result.Signaalcode == 0
    assert result.Startdatum.isoformat() == erkenning["begindatum"]
