"""Where the package was built without a C compiler, its compiled parts (setup.py) are absent: the Python twins
stand in, and a message is parsed, read and answered all the same. Played here by a process in which importing the
three compiled modules fails, as it does when they were never built."""
from __future__ import annotations

import json

from tests.support.servers import python

COMPILED = ("adapter.wl2._walk", "adapter.soap._markup", "adapter.soap._scan")

SCRIPT = f"""
import json, sys
for name in {COMPILED!r}:
    sys.modules[name] = None  # "import" of it raises ImportError, as for a module that was never built
from pathlib import Path
from adapter.soap import xmlbuild, xmlsafe
from adapter.wl2 import client, reader
from adapter.translate import to_wl1
answer = Path("examples/wl2/ZoekenLeerbedrijfOfLeerplaats/response.xml").read_bytes()
result = to_wl1.zoeken(reader.read(client._message(xmlsafe.parse(answer, client.ANSWER_LIMITS))))
text = xmlbuild.markup(result)
refused = ""
try:
    xmlsafe.parse(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>')
except Exception as exc:
    refused = exc.reason
print(json.dumps({{"twins": [reader.WALK, xmlbuild.WRITER, xmlsafe.SCAN], "compiled": [reader._walk is None,
                  xmlbuild._markup is None, xmlsafe._compiled is None], "results": len(result["Resultaten"]["Resultaat"]),
                  "text": text, "refused": refused}}))
"""


def test_without_the_compiled_parts_the_python_twins_answer_the_same():
    without = python(SCRIPT)
    assert without.returncode == 0, without.stderr
    seen = json.loads(without.stdout)
    assert seen["twins"] == ["python"] * 3 and seen["compiled"] == [True] * 3
    assert seen["results"] > 0 and seen["refused"].startswith("DTDs and entity declarations are not allowed")
    with_them = python(SCRIPT.replace("sys.modules[name] = None", "pass"))
    assert with_them.returncode == 0, with_them.stderr
    compiled = json.loads(with_them.stdout)
    assert compiled["twins"] == ["compiled"] * 3 and compiled["compiled"] == [False] * 3
    assert compiled["text"] == seen["text"] and compiled["results"] == seen["results"]
