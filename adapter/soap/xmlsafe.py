"""Hardened XML parsing: the only way this project turns bytes from the network into an lxml tree.

No DTDs, no entity resolution, no network access, and a bounded shape: size, depth, element count, attributes per
element, namespace declarations, name, attribute and text lengths. The shape limits exist because lxml and the
libraries above it have walks that are quadratic in them (measured: reading 96,000 attributes of one element with
``attrib.items()`` takes 85 s; validating or serialising an element under 40,000 namespace declarations takes 19 s).
libxml2 itself parses all of these in linear time, so the document is parsed in one go and its shape is then checked
by XPath expressions that libxml2 evaluates in C, before any Python code, spyne or the validator walks the tree: a
refusal of the worst 1 MiB document takes tens of milliseconds. (lxml's pull parser would report the shape while
parsing, but fed in chunks it leaves glibc holding up to 300 MB per thread after such documents; measured.)
Every refusal is an ``XmlRejected`` with a plain-words reason naming the limit, and the HTTP status to answer with.

A document with much markup is parsed in a thread of its own that ends with it. libxml2 interns every element and
attribute name (and short texts) in a dictionary that lxml keeps per thread for the thread's whole life: a request
thread that once parsed 96,000 attribute names kept ~8 MB for good, and a gthread worker has dozens of request
threads (measured with bench/memory.py: 137-156 MB per worker after 100,000 mixed calls, against ~70 MB with
ordinary traffic). A document with few ``<`` and ``=`` can add only few names to its thread's dictionary; one with
more goes to a fresh thread, whose dictionary goes when the document does. Real WL 1.0 requests have 20-60.
"""
from __future__ import annotations

import codecs
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from lxml import etree

from adapter.errors import XmlRejected

try:
    from adapter.soap import _scan as _compiled  # type: ignore[attr-defined]  # built by setup.py, if it could be
except ImportError:  # no C compiler where the package was built: the Python twin does the same
    _compiled = None

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32
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
    isolate_markup: int = 256         # more '<' and '=' than this: parsed in a thread of its own (0: never)


class _RefuseResolver(etree.Resolver):
    """Nothing external is ever loaded: not a DTD, not an entity, not from disk, not from the network."""

    def resolve(self, system_url, public_id, context):
        raise XmlRejected(DTD_REFUSED)


_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
                remove_comments=True, remove_pis=True, collect_ids=False)


_parsers = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser: a parser may be used again, though not by two threads at once (made per call, it was
    a few per cent of a simple call)."""
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(**_OPTIONS)
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


def _declares_dtd(text: str | bytes) -> bool:
    """Is there a DOCTYPE (or any other markup declaration) in the prolog?

    A document type declaration may only stand in the prolog, before the root element, among the XML declaration,
    processing instructions, comments and white space; anywhere else it is not well-formed and libxml2 refuses it.
    So only the prolog is read, and what a comment, a processing instruction or (later) a CDATA section says is
    never mistaken for a declaration. Linear: each step searches forward from where the last one ended.

    ``text`` is the decoded document, or its bytes when its markup is ASCII (``_ascii_markup``): there the markup
    that matters here is the same bytes, so a document is not decoded whole to read its first lines.
    """
    white, pi, pi_end, comment, comment_end, declaration = _PROLOG[type(text)]
    i, n = (3 if text[:3] == b"\xef\xbb\xbf" else 0), len(text)
    while i < n:
        if text[i:i + 1] in white:
            i += 1
        elif text.startswith(pi, i):
            end = text.find(pi_end, i + 2)
            if end < 0:
                return False  # unterminated: not well-formed, the parser says so
            i = end + 2
        elif text.startswith(comment, i):
            end = text.find(comment_end, i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return text.startswith(declaration, i)  # <!DOCTYPE (or <!ENTITY ... outside one): a declaration
    return False


_PROLOG: dict[type, tuple] = {str: (" \t\r\n\ufeff", "<?", "?>", "<!--", "-->", "<!"),
                              bytes: (b" \t\r\n", b"<?", b"?>", b"<!--", b"-->", b"<!")}


# -- the shape, checked in C before anything walks the tree ---------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _shown(name: str) -> str:
    return name if len(name) <= _SHOWN_NAME else name[:_SHOWN_NAME] + "..."


class _Probes:
    """The compiled XPath checks of one set of limits: each answers "is there one?" in a single pass in libxml2."""

    def __init__(self, lim: Limits):
        self.elements = etree.XPath("count(//*)")
        self.too_deep = etree.XPath("boolean(/" + "/".join(["*"] * (lim.max_depth + 1)) + ")")
        self.many_attributes = etree.XPath(f"(//*[count(@*) > {lim.max_attributes}])[1]")
        self.long_name = etree.XPath(f"(//*[string-length(local-name()) > {lim.max_name_chars}] | "
                                     f"//@*[string-length(local-name()) > {lim.max_name_chars}])[1]")
        self.long_value = etree.XPath(f"(//@*[string-length(.) > {lim.max_attribute_chars}])[1]")
        self.long_text = etree.XPath(f"(//text()[string-length(.) > {lim.max_text_chars}])[1]")


_probes: dict[Limits, _Probes] = {}


@dataclass(frozen=True)
class _Bytes:
    """What the raw document says about its shape before parsing: its size in bytes (no text or value has more
    characters than that), how many ``=`` it holds (no element has more attributes than that) when that count can
    be trusted (``=`` is the byte 0x3D in UTF-16, UTF-32 and ``_ascii_markup`` documents, and no other bytes are
    ``=`` there), and whether its namespace declarations and its names are known to fit the limits
    (``_namespace_declarations``, ``_names_fit``), and whether it has attributes at all. A probe or walk that cannot
    find anything is not run: on a 25-result WL 2.0 answer that halves the checks (measured: 300 to 150 µs); sparing
    the namespace walk saves another 50-80 µs, the name probe 120-200 µs, the attribute value probe 20-30 µs (each
    net of the look at the bytes)."""

    size: int
    equals: int | None
    namespaces_fit: bool = False
    names_fit: bool = False
    no_attributes: bool = False  # every '=' is a namespace declaration's or the XML declaration's


# Encodings in which every byte below 0x80 is its ASCII character and no ASCII character is written any other way
# (Python's names for them). Not UTF-7, where any character may also be written in base64 ('=' as '+AD0-', and
# libxml2 reads it so), not EBCDIC, not UTF-16 or UTF-32.
_ASCII_SUPERSETS = frozenset({"utf-8", "ascii", *(f"iso8859-{i}" for i in range(1, 17)),
                              *(f"cp125{i}" for i in range(9))})
_ENCODING_IN_DECLARATION = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z0-9._:-]{1,40})\1""")


def _ascii_markup(data: bytes) -> bool:
    """Is the document's markup written in ASCII bytes, so that counting bytes counts markup characters? True only
    when libxml2 reads it in one of ``_ASCII_SUPERSETS``: it starts with '<' (after a UTF-8 BOM or white space) and
    has no XML declaration, or one that names such an encoding (or none: UTF-8). Any doubt (a declaration not closed
    within 512 bytes, an 'encoding' not read, a name Python does not know) is False."""
    # (white space before a declaration is not well-formed: the parser refuses such a document anyway)
    body = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data).lstrip(b" \t\r\n")
    if not body.startswith(b"<") or body.startswith(_WIDE_STARTS):
        return False  # EBCDIC, UTF-16, UTF-32 (libxml2 detects them by their first bytes), or not XML at all
    if not (body.startswith(b"<?xml") and body[5:6] in _WHITE):
        return True  # no XML declaration (a '<?xml-stylesheet' PI is none): UTF-8
    end = body.find(b"?>", 0, 512)
    return end >= 0 and declared_ascii(body[:end])


@lru_cache(maxsize=64)
def declared_ascii(declaration: bytes) -> bool:
    """Does this XML declaration (``<?xml`` up to, not including, ``?>``) leave the markup in ASCII bytes? Asked
    of every message with a declaration, and there are few different ones (zeep's, .NET's, a simulator's): so the
    answer is remembered for the last 64 (each at most 512 bytes), which spares a regular expression and a codec
    lookup per message. ``_scan.pyx`` asks it too, only of a declaration that says 'encoding'."""
    declared = _ENCODING_IN_DECLARATION.search(declaration)
    if declared is None:
        return b"encoding" not in declaration
    try:
        return codecs.lookup(declared.group(2).decode("ascii")).name in _ASCII_SUPERSETS
    except LookupError:
        return False


_declarations: dict[int, re.Pattern[bytes]] = {}
_OTHER_XS = 256  # more 'x' bytes than this that begin no 'xmlns' (texts in base64?): the walk decides


def _namespace_declarations(data: bytes, lim: Limits) -> int | None:
    """How many namespace declarations there are at most, when the raw bytes prove that the namespace walk
    (``_namespace_problem``) would find nothing; else None. Only asked of a document whose markup is ASCII
    (``_ascii_markup``): there every declaration's name begins with the bytes ``xmlns``, after white space. Every
    'x' is looked at (``find`` is memchr: 6 µs for a 30 kB answer, where ``count(b"xmlns")`` takes 20), and every
    ``xmlns`` must follow white space and begin a declaration whose quoted value has at most max_name_chars bytes,
    none of them '&' (a reference makes it doubt), so no URI has more characters; and there may be no more of them
    than declarations are allowed. An ``xmlns`` anywhere else (a text, a value, a longer name) that does not look
    like such a declaration leaves it to the walk. No occurrence is skipped because an earlier match covered it: a
    match that begins inside an attribute value may run into the next attribute.

    Each match holds its own '=' (the one after its name: a later match begins after white space, which no name
    holds), and no attribute's: the name before it is exactly ``xmlns`` or ``xmlns:prefix``, a declaration's. So
    when a document has no more '=' than matches (and its XML declaration's), it has no attributes."""
    pattern = _declarations.get(lim.max_name_chars)
    if pattern is None:
        n = lim.max_name_chars
        pattern = _declarations[n] = re.compile(
            rb"""xmlns(?::[^\s=<>"'&/]{1,%d})?[ \t\r\n]*=[ \t\r\n]*(?:"[^"&<]{0,%d}"|'[^'&<]{0,%d}')""" % (n, n, n))
    declarations = others = 0
    at = data.find(b"x")
    while at >= 0:
        if data.startswith(b"xmlns", at):
            declarations += 1
            if (declarations > lim.max_namespaces or data[at - 1:at] not in _WHITE
                    or pattern.match(data, at) is None):
                return None
        else:
            others += 1
            if others > _OTHER_XS:
                return None
        at = data.find(b"x", at + 1)
    return declarations


_WHITE = (b" ", b"\t", b"\r", b"\n")  # (not b"": 'xmlns' at the very start is no declaration)


def _declaration_equals(data: bytes) -> int | None:
    """How many '=' the XML declaration holds (0 without one), in a document whose markup is ASCII; None when that
    is in doubt. Only a real declaration's: a processing instruction such as '<?xml-stylesheet' may hold what looks
    like a namespace declaration, whose '=' would then be counted twice, hiding an attribute's."""
    body = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data).lstrip(b" \t\r\n")
    if not (body.startswith(b"<?xml") and body[5:6] in _WHITE):
        return 0
    declaration = body[:body.find(b"?>")]  # (closed within 512 bytes: ``_ascii_markup`` said so)
    return None if b"xmlns" in declaration else declaration.count(b"=")


# Bytes no name can hold (white space, '<', '>', '=', '/', quotes) become 0, every other byte 1.
_NAME_BYTES = bytes(0 if byte in b" \t\r\n<>=/\"'" else 1 for byte in range(256))


def _names_fit(data: bytes, lim: Limits) -> bool:
    """Do the raw bytes prove that no element or attribute name is longer than max_name_chars? Only asked of a
    document whose markup is ASCII (``_ascii_markup``): there a name (its prefix too) is a run of bytes none of
    which is white space, '<', '>', '=', '/' or a quote, and has at least as many bytes as characters; when no such
    run anywhere (texts included) is longer than the limit, no name is. (``translate`` and ``in``: 25-45 µs for a
    30 kB answer, where the XPath probe takes 120-200 µs.)"""
    return b"\x01" * (lim.max_name_chars + 1) not in data.translate(_NAME_BYTES)


_WIDE_STARTS = tuple(start for start, _ in _WIDE_ENCODINGS)


def _shape_problem(root: etree._Element, lim: Limits, raw: _Bytes) -> str | None:
    """The first limit the tree passes, in words. (Returned, not raised: an exception's traceback would keep this
    frame, and so the whole oversized tree, alive for as long as the exception is kept.)"""
    probes = _probes.get(lim)
    if probes is None:
        probes = _probes[lim] = _Probes(lim)
    # Every element has at least four characters of markup of its own ('<a/>', or '<a>' and '</a>'), and every
    # character at least one byte, in any encoding: a document of 4 x max_elements bytes or fewer cannot have more.
    if raw.size > 4 * lim.max_elements and probes.elements(root) > lim.max_elements:
        return f"message has more than {lim.max_elements} elements"
    deeper = DEEPER.get(SCAN)
    if deeper(root, lim.max_depth) if deeper else probes.too_deep(root):
        return f"message nested deeper than {lim.max_depth} levels"
    if not raw.namespaces_fit:
        problem = _namespace_problem(root, lim)  # visits at most max_elements elements, now known
        if problem:
            return problem
    attributes = not raw.no_attributes
    many = attributes and (raw.equals is None or raw.equals > lim.max_attributes)
    for el in probes.many_attributes(root) if many else ():
        return (f"element '{_shown(_local(el.tag))}' has {len(el.attrib)} attributes, "
                f"the limit is {lim.max_attributes}")
    for node in probes.long_name(root) if not raw.names_fit else ():
        if isinstance(node, etree._Element):
            return f"element name longer than {lim.max_name_chars} characters: '{_shown(_local(node.tag))}'"
        return (f"attribute name longer than {lim.max_name_chars} characters on element "
                f"'{_shown(_local(node.getparent().tag))}': '{_shown(_local(node.attrname))}'")
    for value in probes.long_value(root) if attributes and raw.size > lim.max_attribute_chars else ():
        return (f"attribute '{_shown(_local(value.attrname))}' of element '{_shown(_local(value.getparent().tag))}' "
                f"is longer than {lim.max_attribute_chars} characters")
    for text in probes.long_text(root) if raw.size > lim.max_text_chars else ():
        # lxml calls the element a tail follows its "parent"; the text stands in that element's parent
        holder = text.getparent().getparent() if text.is_tail else text.getparent()
        return f"text in element '{_shown(_local(holder.tag))}' is longer than {lim.max_text_chars} characters"
    return None


def _namespace_problem(root: etree._Element, lim: Limits) -> str | None:
    """Namespace declarations, which XPath cannot count (it sees the namespaces in scope, not where declared)."""
    declared = 0
    for _event, (_prefix, uri) in etree.iterwalk(root, events=("start-ns",)):
        declared += 1
        if declared > lim.max_namespaces:
            return f"message declares more than {lim.max_namespaces} namespaces"
        if len(uri) > lim.max_name_chars:
            return f"namespace URI longer than {lim.max_name_chars} characters: '{_shown(uri)}'"
    return None


Facts = tuple[bool, int, "int | None", "int | None", bool]


def _scan(data: bytes, lim: Limits) -> Facts | None:
    """What the raw bytes of a document whose markup is ASCII (``_ascii_markup``) say, before parsing: whether its
    prolog declares a DTD (``_declares_dtd``), how many '=' it holds, how many namespace declarations it has when
    they are known to fit (``_namespace_declarations``, else None), how many '=' its XML declaration holds when
    that matters (``_declaration_equals``, else None) and whether its names are known to fit (``_names_fit``).
    None when the markup is not ASCII bytes. ``_scan.pyx`` is its compiled twin: in C, without a step per byte,
    where these are five Python functions and as many passes (~55 µs of a simple call's two messages, timed inside
    real calls)."""
    if not _ascii_markup(data):
        return None
    declarations = _namespace_declarations(data, lim)
    return (_declares_dtd(data), data.count(b"="), declarations,
            None if declarations is None else _declaration_equals(data), _names_fit(data, lim))


SCANS: dict[str, Callable[[bytes, Limits], Facts | None]] = {"python": _scan}
if _compiled is not None:
    SCANS["compiled"] = partial(_compiled.scan, declared_ascii=declared_ascii, other_xs=_OTHER_XS)
SCAN = "compiled" if _compiled is not None else "python"
# The depth check goes with the twin in use: the compiled one walks the tree's elements in C (``deeper_than``), the
# Python one asks libxml2's XPath (``_Probes.too_deep``): ~3 against 13-26 µs for a 25-result WL 2.0 answer.
DEEPER: dict[str, Callable[[etree._Element, int], bool]] = {}
if _compiled is not None:
    DEEPER["compiled"] = _compiled.deeper_than


def parse(data: bytes, limits: Limits = Limits()) -> etree._Element:
    """Parse ``data`` (bytes; a UTF-8 BOM is fine) into an element, or raise ``XmlRejected``."""
    if len(data) > limits.max_bytes:
        raise XmlRejected(f"message too large: {len(data)} bytes, the limit is {limits.max_bytes}", 413)
    if not data.strip():
        raise XmlRejected("empty message: expected a SOAP envelope")
    facts = SCANS[SCAN](data, limits)
    if facts is None:  # markup not in ASCII bytes (UTF-16, UTF-32, UTF-7, EBCDIC, ...): read as text
        dtd, equals = _declares_dtd(_as_text(data)), data.count(b"=")
        raw = _Bytes(len(data), equals if data.startswith(_WIDE_STARTS) else None)
    else:
        dtd, equals, declarations, in_declaration, names_fit = facts
        raw = _Bytes(len(data), equals, namespaces_fit=declarations is not None, names_fit=names_fit,
                     no_attributes=in_declaration is not None and equals == declarations + in_declaration)
    # A DTD is refused before parsing: entity declarations are the door to XXE and entity expansion.
    if dtd:
        raise XmlRejected(DTD_REFUSED)
    # '<' and '=' are ASCII in UTF-16 and UTF-32 too, so counting bytes bounds the names in any encoding (and a
    # document of no more bytes than the threshold cannot pass it: ~13 µs not spent on a 30 kB WL 2.0 answer)
    if 0 < limits.isolate_markup < len(data) and data.count(b"<") + equals > limits.isolate_markup:
        return _in_own_thread(data, limits, raw)
    return _parse_checked(data, limits, raw)


def _in_own_thread(data: bytes, limits: Limits, raw: _Bytes) -> etree._Element:
    """``_parse_checked`` in a short-lived thread (see the module's docstring). The tree is handed over to the
    calling thread, which lxml allows: a document keeps the dictionary it was parsed with alive, not the thread."""
    return aside(_parse_checked, data, limits, raw)


def aside(work, *args):
    """``work(*args)`` in a short-lived thread of its own, its result or exception handed back: for libxml2 work
    on a large document (a parse, a validation), which runs without the GIL, so that a gevent worker's other calls
    go on meanwhile (``_join``), and whose names go with the thread's dictionary (see the module's docstring).
    An exception comes back without the thread's frames (nor the exceptions it was raised from), which would hold
    the document for as long as it lives."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            exc.__traceback__ = exc.__context__ = exc.__cause__ = None  # (a parse error's frames hold the bytes)
            outcome.append(exc)

    thread = threading.Thread(target=run, name="xmlsafe-aside", daemon=True)
    thread.start()
    _join(thread)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _join(thread: threading.Thread) -> None:
    """Wait for the parsing thread. In a gevent worker (serve/greenlets.py: ``time`` patched, threads real) a plain
    join would hold the worker's one thread, and every call in flight on it, for the whole parse; there the wait
    sleeps in steps of a millisecond instead, and the other calls go on meanwhile."""
    gevent = sys.modules.get("gevent.monkey")
    if gevent is None or not gevent.is_module_patched("time"):
        thread.join()
        return
    while thread.is_alive():
        time.sleep(0.001)  # gevent's sleep: the hub runs the other greenlets


def _parse_checked(data: bytes, limits: Limits, raw: _Bytes) -> etree._Element:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):  # libxml2's own hard limit, far above ours
            raise XmlRejected(f"message nested deeper than {limits.max_depth} levels") from None
        raise XmlRejected(f"not well-formed XML: {_syntax_reason(exc)}") from None
    problem = (DTD_REFUSED if root.getroottree().docinfo.internalDTD is not None
               else _shape_problem(root, limits, raw))
    if problem:
        del root  # the exception's traceback keeps this frame: not the tree with it
        raise XmlRejected(problem)
    return root


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc.msg if getattr(exc, "msg", None) else exc)
    line = getattr(exc, "lineno", None)
    return f"{msg} (line {line})" if line else msg
