"""The checks xmlsafe skips because the raw bytes prove they cannot find anything are never skipped wrongly.

xmlsafe spares the namespace walk when the bytes ``xmlns`` occur no more often than the limit allows and each
occurrence begins a short quoted declaration, the name probe when no run of bytes that a name could be made of is
longer than a name may be, and the attribute probe when there are too few ``=``. These hold only where the markup is
ASCII bytes; a document in UTF-16, UTF-32 or UTF-7 (where any character may be written in base64, 'xmlns' as
'+AHgAbQBsAG4Acw-', '=' as '+AD0-', and libxml2 reads it so) must still meet every limit.
"""
from __future__ import annotations

import random

import pytest

from adapter.errors import XmlRejected
from adapter.soap import xmlsafe
from adapter.soap.xmlsafe import Limits, parse

pytestmark = pytest.mark.usefixtures("scan")  # each twin of xmlsafe's byte scan (conftest.py)

ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "iso-8859-1", "windows-1252"]
LIMITS = Limits()  # 64 namespaces, URIs of 256 characters


def namespaces(n: int, start: int = 0) -> str:
    return "".join(f' xmlns:p{i:x}="urn:{i:x}"' for i in range(start, start + n))


def doc(inner: str, encoding: str = "utf-8", attrs: str = "") -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?><r{attrs}>{inner}</r>'.encode(encoding)


def outcome(data: bytes, limits: Limits = LIMITS) -> str:
    try:
        parse(data, limits)
    except XmlRejected as exc:
        return exc.reason
    return "accepted"


def walked(data: bytes, limits: Limits = LIMITS) -> str:
    """The outcome with the namespace walk and the name probe always made (by the Python twin of the byte scan,
    told that nothing fits)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(xmlsafe, "SCAN", "python")
        mp.setattr(xmlsafe, "_namespace_declarations", lambda data, lim: None)
        mp.setattr(xmlsafe, "_names_fit", lambda data, lim: False)
        return outcome(data, limits)


# -- namespace declarations: counted and measured in every encoding -------------------------------------------------
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_65_declarations_refused_64_accepted(encoding):
    assert outcome(doc("", encoding, namespaces(64))) == "accepted"
    assert outcome(doc("", encoding, namespaces(65))) == "message declares more than 64 namespaces"
    # spread over nested elements, a default namespace among them
    spread = "".join(f"<a{namespaces(8, 8 * i)}>" for i in range(8)) + "</a>" * 8
    assert outcome(doc(spread, encoding, ' xmlns="urn:d"')) == "message declares more than 64 namespaces"


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_uri_one_character_too_long_is_refused(encoding, quote):
    edge, over = "u" * 256, "u" * 257
    assert outcome(doc("", encoding, f" xmlns:q={quote}{edge}{quote}")) == "accepted"
    assert outcome(doc("", encoding, f" xmlns:q = {quote}{over}{quote}")).startswith(
        "namespace URI longer than 256 characters")
    assert outcome(doc("", encoding, f"\nxmlns\t=\r\n{quote}{over}{quote}")).startswith(
        "namespace URI longer than 256 characters")


def test_references_in_a_uri_are_counted_as_characters():
    assert outcome(doc("", "utf-8", f' xmlns:q="urn:{"&amp;" * 253}"')).startswith("namespace URI longer")
    assert outcome(doc("", "utf-8", f' xmlns:q="urn:{"&#x75;" * 252}"')) == "accepted"


def test_xmlns_in_texts_values_and_comments_never_hides_declarations():
    noise = "<t>xmlns xmlns</t><!-- xmlns --><t a='xmlns'/><?pi xmlns?><![CDATA[xmlns]]>"
    assert outcome(doc(noise, "utf-8", namespaces(64))) == "accepted"
    assert outcome(doc(noise, "utf-8", namespaces(65))) == "message declares more than 64 namespaces"
    # what looks like a declaration in one attribute's value runs on into the next, a real one
    running_on = " a='xmlns=\"' xmlns:b=\"urn:" + "u" * 253 + '"'
    assert outcome(doc("", "utf-8", running_on)).startswith(
        "namespace URI longer than 256 characters")
    # more other 'x' bytes than are looked at: the walk decides
    assert outcome(doc("x" * 300, "utf-8", namespaces(65))) == "message declares more than 64 namespaces"
    assert outcome(doc("x" * 300, "utf-8", namespaces(64))) == "accepted"
    # 'xmlns' inside a declaration's value: the walk decides
    assert outcome(doc("", "utf-8", " xmlns:a='urn:xmlns:b'")) == "accepted"
    assert outcome(doc("", "utf-8", f" xmlns:a='urn:xmlns:{'u' * 250}'")).startswith("namespace URI longer")


@pytest.mark.parametrize("long_declaration", [False, True])
def test_utf7_declarations_and_equals_in_base64_are_counted(long_declaration):
    """In UTF-7 'xmlns' and '=' may be base64: no byte count is trusted, in any way the encoding is declared."""
    pad = " " * 300 if long_declaration else ""  # past what a short look at the declaration would read

    def utf7(attrs: str) -> bytes:
        return f'<?xml version="1.0"{pad} encoding="utf-7"?><r{attrs}/>'.encode("ascii")

    xmlns, equals = "+AHgAbQBsAG4Acw-", "+AD0-"
    assert outcome(utf7("".join(f' {xmlns}:p{i:x}{equals}"urn:{i:x}"' for i in range(64)))) == "accepted"
    assert outcome(utf7("".join(f' {xmlns}:p{i:x}{equals}"urn:{i:x}"' for i in range(65)))) == (
        "message declares more than 64 namespaces")
    assert outcome(utf7(f' {xmlns}:q{equals}"{"u" * 257}"')).startswith("namespace URI longer than 256")
    assert outcome(utf7("".join(f' a{i:x}{equals}""' for i in range(17)))) == (
        "element 'r' has 17 attributes, the limit is 16")


# -- names: a run of name bytes no longer than the limit -------------------------------------------------------------
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_name_one_character_too_long_is_refused(encoding):
    assert outcome(doc(f"<{'n' * 256}/><p:{'n' * 256} xmlns:p='urn:p'/>", encoding, f" {'a' * 256}='v'")) == (
        "accepted")
    assert outcome(doc(f"<{'n' * 257}/>", encoding)).startswith("element name longer than 256 characters")
    assert outcome(doc(f"<p:{'n' * 257} xmlns:p='urn:p'/>", encoding)).startswith("element name longer than 256")
    assert outcome(doc("", encoding, f" {'a' * 257}='v'")).startswith("attribute name longer than 256 characters")
    assert outcome(doc("", encoding, f"\n{'a' * 257}\t=\r'v'")).startswith("attribute name longer than 256")


def test_names_of_many_bytes_but_few_characters_are_accepted():
    """256 characters of two bytes each in UTF-8: the bytes doubt, the probe accepts."""
    assert outcome(doc(f"<{'é' * 256} {'ä' * 256}='v'/>")) == "accepted"
    assert outcome(doc(f"<{'é' * 257}/>")).startswith("element name longer than 256 characters")
    assert outcome(doc("", "utf-8", f" {'ä' * 257}='v'")).startswith("attribute name longer than 256 characters")


def test_a_long_run_in_a_text_leaves_it_to_the_probe():
    assert outcome(doc("t" * 5000 + f"<{'n' * 256}/>")) == "accepted"
    assert outcome(doc("t" * 5000 + f"<{'n' * 257}/>")).startswith("element name longer than 256 characters")


# -- attributes: none when every '=' is a namespace declaration's or the XML declaration's --------------------------
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_attribute_value_one_character_too_long_is_refused(encoding):
    limits = Limits(max_attribute_chars=10, max_attributes=1)
    assert outcome(doc("", encoding, ' xmlns:a="urn:a" v="vvvvvvvvvv"'), limits) == "accepted"
    assert outcome(doc("", encoding, ' xmlns:a="urn:a" v="vvvvvvvvvvv"'), limits) == (
        "attribute 'v' of element 'r' is longer than 10 characters")
    assert outcome(doc("<e/>", encoding, ' xmlns:a="urn:a" v="1" w="2"'), limits) == (
        "element 'r' has 2 attributes, the limit is 1")


@pytest.mark.parametrize("attrs, expected", [
    # a name that ends in 'xmlns' is an attribute, not a declaration
    (' axmlns="vvvvvvvvvvv"', "attribute 'axmlns' of element 'r' is longer than 10 characters"),
    (' xmlns:a="urn:a"axmlns="vvvvvvvvvvv"', "not well-formed"),
    # a '=' in a URI, in a text or in the XML declaration's place does not hide an attribute's
    (' xmlns:a="urn:a=b" v="vvvvvvvvvvv"', "attribute 'v' of element 'r' is longer than 10 characters"),
    (' xmlns:a="urn:a" xmlns:b="urn:b" v="vvvvvvvvvvv"', "attribute 'v' of element 'r' is longer than 10 characters"),
    (' xmlns:a="urn:a"', "accepted"),
])
def test_attributes_are_seen_among_declarations(attrs, expected):
    limits = Limits(max_attribute_chars=10)
    assert outcome(doc("t=t", "utf-8", attrs), limits).startswith(expected)
    assert outcome(f"<r{attrs}>t</r>".encode(), limits).startswith(expected)
    assert outcome(f'<?xml-stylesheet href="s"?><r{attrs}>t</r>'.encode(), limits).startswith(expected)
    # a processing instruction that looks like a namespace declaration: its '=' is not counted twice
    assert outcome(f'<?xml-stylesheet  xmlns="a"?><r{attrs}>t</r>'.encode(), limits).startswith(expected)
    assert outcome(f'<?xml-stylesheet  xmlns="a"?><r{attrs} w="vvvvvvvvvvv">t</r>'.encode(), limits) != "accepted"


@pytest.mark.parametrize("data, ascii_markup", [
    (b'<r xmlns="urn:a"/>', True),
    (b'\xef\xbb\xbf\n<r/>', True),
    (b'<?xml version="1.0"?><r/>', True),
    (b"<?xml version='1.0' encoding='ISO-8859-15'?><r/>", True),
    (b'<?xml version="1.0" encoding="Windows-1252" standalone="yes"?><r/>', True),
    (b'<?xml-stylesheet href="s"?><r/>', True),
    (b'<?xml version="1.0" encoding="utf-7"?><r/>', False),
    (b'<?xml version="1.0" encoding="UTF-16"?><r/>', False),
    (b'<?xml version="1.0" encoding="cp500"?><r/>', False),
    (b'<?xml version="1.0" encoding="shift_jis"?><r/>', False),  # ASCII-compatible, but not on the list
    (b'<?xml version="1.0" encoding="no-such-thing"?><r/>', False),
    (b'<?xml version="1.0" encoding=utf-8?><r/>', False),  # an 'encoding' not read: doubt
    (b'<?xml version="1.0"' + b" " * 600 + b'encoding="utf-8"?><r/>', False),
    ("<r/>".encode("utf-16"), False),
    ("<r/>".encode("utf-32-le"), False),
    ("<r/>".encode("cp500"), False),
])
def test_which_documents_have_ascii_markup(data, ascii_markup):
    assert xmlsafe._ascii_markup(data) is ascii_markup


def test_a_wl2_answer_skips_the_walk():
    """The point of it: a real answer (one declaration per header element, one for the body) is spared the walk
    and the name probe."""
    from tests.support.servers import ROOT

    answers = sorted((ROOT / "examples" / "wl2").glob("*/response*.xml"))
    assert answers
    for path in answers:
        data = path.read_bytes()
        assert xmlsafe._ascii_markup(data) and xmlsafe._namespace_declarations(data, LIMITS) is not None, path
        assert xmlsafe._names_fit(data, LIMITS), path


def test_random_documents_give_what_the_walk_gives():
    """Declarations and names of every kind, near the limits, among lookalikes: skipping never changes an
    outcome."""
    rng = random.Random(20261130)
    limits = Limits(max_namespaces=6, max_name_chars=12, max_attribute_chars=12)

    def uri() -> str:
        return "u" * rng.choice([1, 11, 12, 12, 12, 13])

    pieces = [
        *[lambda: f' xmlns:p{rng.randrange(10**4)}="{uri()}"'] * 6,
        *[lambda: f" xmlns:p{rng.randrange(10**4)} =\n'{uri()}'"] * 3,
        lambda: f' {"a" * rng.choice([1, 8, 12, 13])}{rng.randrange(10)}="v"',
        lambda: f' v{rng.randrange(10**4)}="{"v" * rng.choice([1, 12, 13])}"',
        lambda: f' xmlns="{uri()}"',
        lambda: f' xmlns:p{rng.randrange(10**6)}="{"&amp;" * rng.randrange(1, 5)}"',
        lambda: f' a{rng.randrange(10**6)}="xmlns"',
        lambda: f' xmlnsx{rng.randrange(10**6)}="v"',
        lambda: f' axmlns{rng.randrange(10**6)}="v"',
    ]
    texts = ["", "", "", "", "xmlns", "<!-- xmlns -->", "<![CDATA[xmlns:a='b']]>", "xmlns=\"x\""]
    seen: dict[str, int] = {}
    skipped = names_skipped = 0
    for _ in range(600):
        attrs = [rng.choice(pieces)() for _ in range(rng.randrange(0, 10))]
        inner = "".join(f"<{name}{''.join(attrs[i::3])}>{rng.choice(texts)}</{name}>"
                        for i, name in ((1, "e"), (2, "e" * rng.choice([1, 12, 13]))))
        data = doc(inner, rng.choice(["utf-8", "utf-8", "utf-16", "iso-8859-1"]), "".join(attrs[::3]))
        expected = walked(data, limits)
        assert outcome(data, limits) == expected, data
        kind = "attribute value" if expected.startswith("attribute '") else (
            expected.split(":")[0].split(" on element")[0])
        seen[kind] = seen.get(kind, 0) + 1
        skipped += xmlsafe._ascii_markup(data) and xmlsafe._namespace_declarations(data, limits) is not None
        names_skipped += xmlsafe._ascii_markup(data) and xmlsafe._names_fit(data, limits)
    # the cases are all there: accepted with and without the checks, refused for each limit in question
    assert skipped > 15 and names_skipped > 40 and seen["accepted"] > 100, (skipped, names_skipped, seen)
    assert seen["attribute value"] > 10
    assert seen["element name longer than 12 characters"] > 15 and seen["attribute name longer than 12 characters"] > 15
    assert seen["message declares more than 6 namespaces"] > 10 and seen["namespace URI longer than 12 characters"] > 15



PROLOGS = {  # the prolog before the root element -> is a declaration there
    "": False, "<!DOCTYPE r>": True, "<!-- <!DOCTYPE r> -->": False, "<?pi <!DOCTYPE r> ?>": False,
    "\n <!-- a -->\n<!DOCTYPE r [<!ENTITY e 'x'>]>": True, "<!-- unterminated <!DOCTYPE r>": False,
    "<?pi unterminated": False, " \t<!ENTITY e 'x'>": True, "<!-- --><?p?><!-- -->": False,
}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "iso-8859-1", "windows-1252", "ascii"])
@pytest.mark.parametrize("prolog", PROLOGS)
@pytest.mark.parametrize("declared", [True, False])
def test_the_dtd_check_on_ascii_markup_bytes_agrees_with_the_decoded_text(encoding, prolog, declared):
    """For ASCII markup the prolog is read from the bytes, not from the whole document decoded."""
    name = "utf-8" if encoding == "utf-8-sig" else encoding
    text = (f'<?xml version="1.0" encoding="{name}"?>' if declared else "") + prolog + "<r>é&lt;!DOCTYPE</r>"
    data = text.replace("é", "e" if encoding == "ascii" else "é").encode(encoding)
    assert xmlsafe._ascii_markup(data)
    assert xmlsafe._declares_dtd(data) is xmlsafe._declares_dtd(xmlsafe._as_text(data)) is PROLOGS[prolog]
