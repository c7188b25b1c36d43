"""Hardened XML parsing: the only way this project turns bytes from the network into an lxml tree.

No DTDs, no entity resolution, no network access, bounded size and depth. Every refusal is an
``XmlRejected`` with a plain-words reason and the HTTP status to answer with.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapter.errors import XmlRejected

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32


class _RefuseResolver(etree.Resolver):
    """Nothing external is ever loaded: not a DTD, not an entity, not from disk, not from the network."""

    def resolve(self, system_url, public_id, context):
        raise XmlRejected("DTDs and entity declarations are not allowed")


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(_RefuseResolver())
    return parser


# How a document that is not in an ASCII-compatible encoding starts (XML 1.0, appendix F).
_WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"), (b"<\x00", "utf-16-le"),
)


def _declares_dtd(data: bytes) -> bool:
    """Is there a DOCTYPE or ENTITY declaration, in whatever encoding the document is written?"""
    for start, encoding in _WIDE_ENCODINGS:
        if data.startswith(start):
            text = data.decode(encoding, errors="ignore")
            return "<!DOCTYPE" in text or "<!ENTITY" in text
    return b"<!DOCTYPE" in data or b"<!ENTITY" in data


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


def _depth_probe(max_depth: int) -> etree.XPath:
    return etree.XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")


_probes: dict[int, etree.XPath] = {}


def parse(data: bytes, limits: Limits = Limits()) -> etree._Element:
    """Parse ``data`` (bytes; a UTF-8 BOM is fine) into an element, or raise ``XmlRejected``."""
    if len(data) > limits.max_bytes:
        raise XmlRejected(f"message too large: {len(data)} bytes, the limit is {limits.max_bytes}", 413)
    if not data.strip():
        raise XmlRejected("empty message: expected a SOAP envelope")
    # A DTD is refused before parsing: entity declarations are the door to XXE and entity expansion.
    if _declares_dtd(data):
        raise XmlRejected("DTDs and entity declarations are not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):  # libxml2's own hard limit, far above ours
            raise XmlRejected(f"message nested deeper than {limits.max_depth} levels") from None
        raise XmlRejected(f"not well-formed XML: {_syntax_reason(exc)}") from None
    if root.getroottree().docinfo.internalDTD is not None:  # belt and braces
        raise XmlRejected("DTDs and entity declarations are not allowed")
    probe = _probes.get(limits.max_depth)
    if probe is None:
        probe = _probes[limits.max_depth] = _depth_probe(limits.max_depth)
    if probe(root):
        raise XmlRejected(f"message nested deeper than {limits.max_depth} levels")
    return root


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc.msg if getattr(exc, "msg", None) else exc)
    line = getattr(exc, "lineno", None)
    return f"{msg} (line {line})" if line else msg
