"""Hardened XML parsing: the only way this project turns bytes from the network into an lxml tree.

No DTDs, no entity resolution, no network access, and bounded shape: size, depth, element count, attributes per
element, namespace declarations, name, attribute and text lengths. The shape limits exist because lxml and the
libraries above it have walks that are quadratic in them (measured: reading 96,000 attributes of one element with
``attrib.items()`` takes 85 s; validating or serialising an element under 40,000 namespace declarations takes 19 s).
They are checked while libxml2 parses, through the pull parser's events, so nothing else ever walks an oversized
tree and a refusal comes in milliseconds. Every refusal is an ``XmlRejected`` with a plain-words reason naming the
limit, and the HTTP status to answer with.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from lxml import etree

from adapter.errors import XmlRejected

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32
_FEED_CHUNK = 64 * 1024  # events are checked after each chunk, so a bomb is stopped long before it is all parsed
_SHOWN_NAME = 40  # how much of an over-long name a fault repeats


DTD_REFUSED = "DTDs and entity declarations are not allowed"


@dataclass(frozen=True)
class Limits:
    """The shape a message may have. The defaults leave every real WL 1.0 and WL 2.0 message far inside."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_elements: int = 2000          # in the whole message
    max_attributes: int = 16          # on one element (namespace declarations not counted)
    max_namespaces: int = 64          # namespace declarations in the whole message
    max_name_chars: int = 256         # an element's or attribute's local name, and a namespace URI
    max_attribute_chars: int = 1024   # one attribute value
    max_text_chars: int = 65536       # one text (an element's content between tags)


class _RefuseResolver(etree.Resolver):
    """Nothing external is ever loaded: not a DTD, not an entity, not from disk, not from the network."""

    def resolve(self, system_url, public_id, context):
        raise XmlRejected(DTD_REFUSED)


_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
                remove_comments=True, remove_pis=True, collect_ids=False)


def _parser(pull: bool = True) -> etree.XMLParser:
    """A pull parser reporting elements and namespace declarations as it meets them (or a one-shot one)."""
    if pull:
        parser = etree.XMLPullParser(events=("start", "end", "start-ns"), **_OPTIONS)
    else:
        parser = etree.XMLParser(**_OPTIONS)
    parser.resolvers.add(_RefuseResolver())
    return parser


# -- the DTD check, before any parsing ---------------------------------------------------------------------------
# How a document that is not in an ASCII-compatible encoding starts (XML 1.0, appendix F).
_WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"), (b"<\x00", "utf-16-le"),
)
_DECLARED = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")


def _as_text(data: bytes) -> str:
    """The document as text, decoded as libxml2 would: by its first bytes, else by its declared encoding (so a
    DOCTYPE written in UTF-16, UTF-32 or UTF-7 is seen as well). An encoding Python does not know is refused,
    since then nobody could say what the document declares."""
    for start, encoding in _WIDE_ENCODINGS:
        if data.startswith(start):
            return data.decode(encoding, errors="replace")
    declared = _DECLARED.match(data)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise XmlRejected(f"unsupported encoding '{encoding}'") from None
    return data.decode(encoding, errors="replace")


def _declares_dtd(text: str) -> bool:
    """Is there a DOCTYPE (or any other markup declaration) in the prolog?

    A document type declaration may only stand in the prolog, before the root element, among the XML declaration,
    processing instructions, comments and white space; anywhere else it is not well-formed and libxml2 refuses it.
    So only the prolog is read, and what a comment, a processing instruction or (later) a CDATA section says is
    never mistaken for a declaration. Linear: each step searches forward from where the last one ended.
    """
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t\r\n\ufeff":
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                return False  # unterminated: not well-formed, the parser says so
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return text.startswith("<!", i)  # <!DOCTYPE (or <!ENTITY ... outside one): a declaration
    return False


# -- parsing with the shape checked on the way ----------------------------------------------------------------------
def _local(tag: str) -> tuple[str, str]:
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return ns, local


def _shown(name: str) -> str:
    return name if len(name) <= _SHOWN_NAME else name[:_SHOWN_NAME] + "..."


class _Shape:
    """Counts what the parser reports and refuses at the first limit passed."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.elements = 0
        self.namespaces = 0
        self.depth = 0

    def check(self, events) -> None:
        for event, item in events:
            if event == "start":
                self._start(item)
            elif event == "end":
                self.depth -= 1
                self._texts(item)
            else:  # start-ns: (prefix, uri)
                self.namespaces += 1
                if self.namespaces > self.limits.max_namespaces:
                    raise XmlRejected(f"message declares more than {self.limits.max_namespaces} namespaces")
                if len(item[1]) > self.limits.max_name_chars:
                    raise XmlRejected(f"namespace URI longer than {self.limits.max_name_chars} characters: "
                                      f"'{_shown(item[1])}'")

    def _start(self, el: etree._Element) -> None:
        lim = self.limits
        self.elements += 1
        self.depth += 1
        if self.elements > lim.max_elements:
            raise XmlRejected(f"message has more than {lim.max_elements} elements")
        if self.depth > lim.max_depth:
            raise XmlRejected(f"message nested deeper than {lim.max_depth} levels")
        _ns, local = _local(el.tag)
        if len(local) > lim.max_name_chars:
            raise XmlRejected(f"element name longer than {lim.max_name_chars} characters: '{_shown(local)}'")
        attrib = el.attrib
        count = len(attrib)  # linear; reading the values with items() would be quadratic in lxml
        if count > lim.max_attributes:
            raise XmlRejected(f"element '{local}' has {count} attributes, the limit is {lim.max_attributes}")
        for key, value in attrib.items():
            name = _local(key)[1]
            if len(name) > lim.max_name_chars:
                raise XmlRejected(f"attribute name longer than {lim.max_name_chars} characters on element "
                                  f"'{local}': '{_shown(name)}'")
            if len(value) > lim.max_attribute_chars:
                raise XmlRejected(f"attribute '{name}' of element '{local}' is longer than "
                                  f"{lim.max_attribute_chars} characters")

    def _texts(self, el: etree._Element) -> None:
        """The element's own text, and the texts between its children (their tails, complete once it ends)."""
        limit = self.limits.max_text_chars
        too_long = el.text is not None and len(el.text) > limit
        if not too_long and len(el):
            too_long = any(c.tail is not None and len(c.tail) > limit for c in el)
        if too_long:
            raise XmlRejected(f"text in element '{_local(el.tag)[1]}' is longer than {limit} characters")


def parse(data: bytes, limits: Limits = Limits()) -> etree._Element:
    """Parse ``data`` (bytes; a UTF-8 BOM is fine) into an element, or raise ``XmlRejected``."""
    if len(data) > limits.max_bytes:
        raise XmlRejected(f"message too large: {len(data)} bytes, the limit is {limits.max_bytes}", 413)
    if not data.strip():
        raise XmlRejected("empty message: expected a SOAP envelope")
    # A DTD is refused before parsing: entity declarations are the door to XXE and entity expansion.
    if _declares_dtd(_as_text(data)):
        raise XmlRejected(DTD_REFUSED)
    parser = _parser()
    shape = _Shape(limits)
    try:
        for i in range(0, len(data), _FEED_CHUNK):
            parser.feed(data[i:i + _FEED_CHUNK])
            shape.check(parser.read_events())
        root = parser.close()
        shape.check(parser.read_events())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):  # libxml2's own hard limit, far above ours
            raise XmlRejected(f"message nested deeper than {limits.max_depth} levels") from None
        raise XmlRejected(f"not well-formed XML: {_syntax_reason(_first_error(data, exc))}") from None
    if root.getroottree().docinfo.internalDTD is not None:  # belt and braces
        raise XmlRejected(DTD_REFUSED)
    return root


def _first_error(data: bytes, exc: etree.XMLSyntaxError) -> etree.XMLSyntaxError:
    """The push parser sometimes reports a later symptom ("no element found" for an undefined entity); the
    one-shot parser, run again on the same (size-checked, DTD-free) bytes, names the first error."""
    try:
        etree.fromstring(data, _parser(pull=False))
    except etree.XMLSyntaxError as first:
        return first
    return exc


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc.msg if getattr(exc, "msg", None) else exc)
    line = getattr(exc, "lineno", None)
    return f"{msg} (line {line})" if line else msg
