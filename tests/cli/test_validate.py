"""`wl-adapter validate`, run as the real installed command in a subprocess.

Exit codes: 0 all valid, 1 some file violates its contract, 2 some file cannot be read or is not (acceptable) XML.
"""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import ROOT

EXAMPLES = ROOT / "examples"
WL1_FILES = sorted((EXAMPLES / "wl1").glob("*/*.xml"))
WL2_FILES = sorted((EXAMPLES / "wl2").glob("*/*.xml"))
INVALID = EXAMPLES / "invalid"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("wl-adapter")
    assert script.exists(), f"the wl-adapter console script is not installed next to {sys.executable}"
    return [str(script)]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*_command(), "validate", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=60)


PROBLEM_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<element>[^:]+): (?P<reason>.+)$")


def problem_lines(out: str) -> list[re.Match]:
    lines = [line for line in out.splitlines() if line.strip()]
    matches = [PROBLEM_LINE.match(line) for line in lines]
    assert all(matches), f"not in FILE:LINE: ELEMENT: reason form: {lines}"
    return matches


def test_valid_files_exit_0_and_say_valid(tmp_path):
    files = WL1_FILES + WL2_FILES
    r = run(*files, cwd=tmp_path)  # absolute paths, from an unrelated directory
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"{f}: valid" for f in files]


def test_relative_paths_as_in_the_readme():
    files = [str(p.relative_to(ROOT)) for p in WL1_FILES]
    r = run(*files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{files[0]}: valid" in r.stdout.splitlines()


def test_quiet_prints_nothing_for_valid_files():
    r = run("-q", *WL2_FILES)
    assert (r.returncode, r.stdout) == (0, "")


def _expected() -> list[dict]:
    with (INVALID / "EXPECTED.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.mark.parametrize("row", _expected(), ids=lambda r: r["file"])
def test_invalid_file_exits_1_with_file_line_element_reason(row):
    path = INVALID / row["file"]
    r = run(path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "valid" not in r.stdout.splitlines()
    matches = problem_lines(r.stdout)
    assert all(m["file"] == str(path) for m in matches)
    hits = [m for m in matches if m["element"] == row["element"]
            and row["reason fragment"].lower() in m["reason"].lower()]
    assert hits, r.stdout
    # the line number points at the element the problem is about
    lines = path.read_text(encoding="utf-8").splitlines()
    for m in hits:
        number = int(m["line"])
        assert number >= 1
        assert re.search(rf"[<:]{re.escape(row['element'])}[\s>/]", lines[number - 1] + " "), \
            f"line {number} is {lines[number - 1]!r}"


def test_valid_and_invalid_together_exit_1_and_report_both():
    good = EXAMPLES / "wl1" / "Zoeken" / "request.xml"
    bad = INVALID / "wl1-page-size-26.xml"
    r = run(good, bad)
    assert r.returncode == 1
    out = r.stdout.splitlines()
    assert f"{good}: valid" in out
    assert any(line.startswith(f"{bad}:") and "AantalResultatenPerPagina" in line for line in out)


def test_quiet_still_prints_problems():
    bad = INVALID / "wl2-postcode-with-space.xml"
    r = run("-q", EXAMPLES / "wl2" / "VerifieerAccreditatie" / "request.xml", bad)
    assert r.returncode == 1
    assert [m["element"] for m in problem_lines(r.stdout)] == ["Postcode"]


def test_missing_file_exits_2(tmp_path):
    missing = tmp_path / "nope.xml"
    r = run(missing)
    assert r.returncode == 2
    assert f"{missing}: cannot read" in r.stderr


def test_directory_is_unreadable_exits_2(tmp_path):
    r = run(tmp_path)
    assert r.returncode == 2
    assert "cannot read" in r.stderr


def test_unreadable_wins_over_invalid(tmp_path):
    r = run(INVALID / "wl1-page-size-26.xml", tmp_path / "nope.xml")
    assert r.returncode == 2
    assert "AantalResultatenPerPagina" in r.stdout


@pytest.mark.parametrize("content,reason", [
    (b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>", "not well-formed"),
    (b"<Zoeken xmlns='urn:sbb:whitelabel:1.0'><request></Zoeken>", "not well-formed"),
    (b"this is not xml", "not well-formed"),
    (b"", "empty"),
])
def test_malformed_xml_exits_2(tmp_path, content, reason):
    path = tmp_path / "capture.xml"
    path.write_bytes(content)
    r = run(path, EXAMPLES / "wl1" / "Zoeken" / "request.xml")
    assert r.returncode == 2, r.stdout
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"{path}:"), first
    assert reason in first


def test_contract_option_forces_the_contract():
    wl1_file = EXAMPLES / "wl1" / "VerifieerAccreditatie" / "request.xml"
    assert run("--contract", "wl1", wl1_file).returncode == 0
    r = run("--contract", "wl2", wl1_file)
    assert r.returncode == 1
    (m,) = problem_lines(r.stdout)
    assert m["element"] == "VerifieerAccreditatie"
    assert "WL2" in m["reason"]
    wl2_file = EXAMPLES / "wl2" / "VerifieerAccreditatie" / "request.xml"
    assert run("--contract", "wl2", wl2_file).returncode == 0
    assert run("--contract", "wl1", wl2_file).returncode == 1


def test_unknown_contract_is_a_usage_error():
    r = run("--contract", "wl3", EXAMPLES / "wl1" / "Zoeken" / "request.xml")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Zoeken xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>&lol9;</Licentie></request></Zoeken>
"""


def test_entity_expansion_is_refused(tmp_path):
    path = tmp_path / "lolz.xml"
    path.write_bytes(BILLION_LAUGHS)
    r = run(path)
    assert r.returncode == 2, r.stdout
    assert "DTD" in r.stdout
    assert "lollol" not in r.stdout


def test_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42")
    path = tmp_path / "xxe.xml"
    path.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>
<VerifieerAccreditatie xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>&xxe;</Licentie>
<CodeLeerbedrijf>1</CodeLeerbedrijf><Crebonummer>1</Crebonummer><Peildatum>2026-01-01</Peildatum></request>
</VerifieerAccreditatie>""")
    r = run(path)
    assert r.returncode == 2
    assert "DTD" in r.stdout
    assert "TOPSECRET" not in r.stdout + r.stderr


def test_bare_message_validates(tmp_path):
    path = tmp_path / "bare.xml"
    path.write_text('<Zoeken xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>L</Licentie>'
                    "<AantalResultatenPerPagina>25</AantalResultatenPerPagina><Pagina>1</Pagina>"
                    "<LeerplaatsErkenningAanduiding>L</LeerplaatsErkenningAanduiding></request></Zoeken>")
    r = run(path)
    assert (r.returncode, r.stdout) == (0, f"{path}: valid\n")
