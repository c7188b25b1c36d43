"""A logged message shown as indented XML, with the lines of the elements named in validation problems marked.
Parsing goes through the project's safe parser; a truncated or malformed message is shown as it was logged."""
from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from adapter.soap.xmlsafe import Limits, XmlRejected, parse

_LIMITS = Limits(max_bytes=4 * 1024 * 1024, max_depth=64)


@dataclass(frozen=True)
class Line:
    text: str
    marked: bool


def problem_elements(problems: list[str]) -> set[str]:
    """'Crebonummer: 'abc' is not a valid value' -> {'Crebonummer'}; a path names its last element."""
    names = set()
    for problem in problems:
        element = problem.split(": ", 1)[0].strip()
        element = element.rsplit("/", 1)[-1].split("}")[-1].split(":")[-1].removeprefix("element ").strip()
        if re.fullmatch(r"[\w.-]+", element):
            names.add(element)
    return names


def pretty(xml: str) -> str:
    try:
        root = parse(xml.encode("utf-8"), _LIMITS)
    except (XmlRejected, ValueError):
        return xml
    for el in root.iter():  # drop the whitespace of the original layout, so indenting starts clean
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    return etree.tostring(root, pretty_print=True, encoding="unicode")


def lines(xml: str | None, elements: set[str]) -> list[Line]:
    if not xml:
        return []
    opening = re.compile(r"<(?:[\w.-]+:)?(" + "|".join(map(re.escape, sorted(elements))) + r")[\s/>]") \
        if elements else None
    return [Line(text, bool(opening and opening.search(text))) for text in pretty(xml).splitlines()]
