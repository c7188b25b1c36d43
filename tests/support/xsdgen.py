"""Hypothesis strategies read from an XSD's own facets: every message they draw is valid to that schema.

Where the hand-written strategies of test_fuzz_wl1.py draw what schools send, these draw what the schema allows,
edges first: strings of exactly minLength or maxLength, white space only (space, tab, newline, no-break space,
U+2028: xs:string keeps them all), integers at their bounds spelled with a sign, leading zeros by the thousand and
white space around them (the numeric types collapse it), booleans as 0/1/true/false, dates with time zones and with
years past 9999. Supports what the frozen contracts use: global elements, named complex types with sequence and
choice, minOccurs/maxOccurs, and simple types restricting xs:string, xs:int, xs:long, xs:boolean or xs:date by
length, min/maxLength, min/maxInclusive and enumeration.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
BOUNDS = {"int": (-2**31, 2**31 - 1), "long": (-2**63, 2**63 - 1)}
# what white space a string may hold (CR only as a character reference: the parser turns a raw one into LF)
SPACES = [" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\u3000"]
COLLAPSE = [" ", "\t", "\n", "\r"]


@dataclass
class Node:
    """One element to write: its local name and a text, or its children."""

    name: str
    value: str | list[Node]


def _local(qname: str) -> tuple[str, str]:
    prefix, _, local = qname.rpartition(":")
    return prefix, local


def string(min_len: int, max_len: int | None) -> st.SearchStrategy[str]:
    top = max_len if max_len is not None else max(min_len, 60)
    char = st.one_of(st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co")), st.sampled_from(SPACES),
                     st.sampled_from(list("<>&'\"]%*")))
    blank = st.lists(st.sampled_from(SPACES), min_size=max(min_len, 1), max_size=max(min(top, 8), max(min_len, 1)))
    edges = [st.text(char, min_size=n, max_size=n) for n in sorted({min_len, top})]
    return st.one_of(st.text(char, min_size=min_len, max_size=top), blank.map("".join), *edges)


def integer(lo: int, hi: int) -> st.SearchStrategy[str]:
    value = st.one_of(st.integers(lo, hi), st.sampled_from(sorted({lo, hi, max(lo, min(hi, 0)), max(lo, min(hi, 1))})))
    zeros = st.one_of(st.just(0), st.integers(1, 3), st.sampled_from([4_400, 10_000]))
    pad = st.sampled_from(["", "", " ", "\n\t", " \r\n "])

    def spell(t):
        n, z, sign, before, after = t
        digits = "0" * z + str(abs(n))
        if n < 0:
            return f"{before}-{digits}{after}"
        return f"{before}{sign}{digits}{after}"
    return st.tuples(value, zeros, st.sampled_from(["", "", "+"]), pad, pad).map(spell)


def boolean() -> st.SearchStrategy[str]:
    pad = st.sampled_from(["", " ", "\n"])
    return st.tuples(pad, st.sampled_from(["true", "false", "1", "0"]), pad).map("".join)


def date() -> st.SearchStrategy[str]:
    years = st.one_of(st.integers(1, 9999).map(lambda y: f"{y:04d}"), st.sampled_from(["0001", "9999", "10000",
                                                                                        "-0001", "123456789"]))
    tz = st.sampled_from(["", "", "Z", "+14:00", "-14:00", "+00:00"])
    return st.tuples(years, st.integers(1, 12), st.integers(1, 28), tz).map(
        lambda t: f"{t[0]}-{t[1]:02d}-{t[2]:02d}{t[3]}")


class Schema:
    """One XSD file (no imports), turned into strategies per global element."""

    def __init__(self, path: Path, overrides: dict[str, st.SearchStrategy[str]] | None = None,
                 fixed: dict[str, st.SearchStrategy[str]] | None = None):
        self.doc = etree.parse(str(path)).getroot()
        self.simple = {t.get("name"): t for t in self.doc.iterchildren(f"{XS}simpleType")}
        self.complex = {t.get("name"): t for t in self.doc.iterchildren(f"{XS}complexType")}
        self.elements = {e.get("name"): e for e in self.doc.iterchildren(f"{XS}element")}
        self.overrides = overrides or {}  # element name -> a strategy mixed in with the facets' one
        self.fixed = fixed or {}  # element name -> a strategy used instead of the facets' one

    def element(self, name: str) -> st.SearchStrategy[Node]:
        return self._element(self.elements[name])

    # -- particles ----------------------------------------------------------------------------------------------
    def _element(self, decl: etree._Element) -> st.SearchStrategy[Node]:
        name = decl.get("name")
        inline = decl.find(f"{XS}complexType")
        if inline is not None:
            content = self._complex(inline)
        else:
            prefix, local = _local(decl.get("type"))
            if decl.nsmap.get(prefix or None) == XSD_NS:
                content = self._builtin(local, {})
            elif local in self.complex:
                content = self._complex(self.complex[local])
            else:
                content = self._simple(self.simple[local])
            if name in self.overrides:
                content = st.one_of(content, self.overrides[name])
            if name in self.fixed:
                content = self.fixed[name]
        return content.map(lambda v: Node(name, v))

    def _complex(self, ctype: etree._Element) -> st.SearchStrategy[list[Node]]:
        group = ctype.find(f"{XS}sequence")
        return self._sequence(group) if group is not None else st.just([])

    def _sequence(self, seq: etree._Element) -> st.SearchStrategy[list[Node]]:
        parts = [self._particle(p) for p in seq if isinstance(p.tag, str)]
        return st.tuples(*parts).map(lambda lists: [n for part in lists for n in part])

    def _particle(self, p: etree._Element) -> st.SearchStrategy[list[Node]]:
        lo = int(p.get("minOccurs", "1"))
        hi_text = p.get("maxOccurs", "1")
        hi = lo + 3 if hi_text == "unbounded" else int(hi_text)
        if p.tag == f"{XS}element":
            one = self._element(p).map(lambda n: [n])
        elif p.tag == f"{XS}choice":
            one = st.one_of(*[self._particle(c) for c in p if isinstance(c.tag, str)])
        elif p.tag == f"{XS}sequence":
            one = self._sequence(p)
        else:
            raise NotImplementedError(p.tag)
        return st.lists(one, min_size=lo, max_size=hi).map(lambda lists: [n for part in lists for n in part])

    # -- simple types -------------------------------------------------------------------------------------------
    def _simple(self, stype: etree._Element) -> st.SearchStrategy[str]:
        restriction = stype.find(f"{XS}restriction")
        prefix, base = _local(restriction.get("base"))
        facets: dict[str, list[str]] = {}
        for f in restriction:
            if isinstance(f.tag, str):
                facets.setdefault(etree.QName(f).localname, []).append(f.get("value"))
        if restriction.nsmap.get(prefix or None) != XSD_NS:
            raise NotImplementedError(f"restriction of {base}")
        return self._builtin(base, facets)

    def _builtin(self, base: str, facets: dict[str, list[str]]) -> st.SearchStrategy[str]:
        if "enumeration" in facets:
            return st.sampled_from(facets["enumeration"])  # xs:string enumerations: no white space allowed around
        if base == "string":
            if "length" in facets:
                n = int(facets["length"][0])
                return string(n, n)
            return string(int(facets.get("minLength", ["0"])[0]),
                          int(facets["maxLength"][0]) if "maxLength" in facets else None)
        if base in BOUNDS:
            lo, hi = BOUNDS[base]
            lo = max(lo, int(facets.get("minInclusive", [lo])[0]))
            hi = min(hi, int(facets.get("maxInclusive", [hi])[0]))
            return integer(lo, hi)
        if base == "boolean":
            return boolean()
        if base == "date":
            return date()
        raise NotImplementedError(f"xs:{base}")


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def to_xml(node: Node, namespace: str) -> str:
    """The element with ``namespace`` as default namespace (elementFormDefault qualified)."""
    def write(n: Node) -> str:
        if isinstance(n.value, list):
            return f"<{n.name}>{''.join(write(c) for c in n.value)}</{n.name}>"
        return f"<{n.name}>{_escape(n.value)}</{n.name}>"
    text = write(node)
    head = f"<{node.name}>"
    return f'<{node.name} xmlns="{namespace}">' + text[len(head):]
