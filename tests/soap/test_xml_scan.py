"""The two twins of xmlsafe's look at a message's raw bytes (``xmlsafe.SCANS``: ``_scan`` in Python and its compiled
twin, adapter/soap/_scan.pyx) say the same of every document: the example messages, the prologs the DTD check
knows, the starts that decide whether markup is ASCII, and thousands of generated documents made of the bytes each
rule turns on. The xmlsafe tests themselves run with each twin (conftest.py). The compiled depth walk
(``deeper_than``) is held to the XPath probe it stands in for, on generated trees."""
from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapter.soap import xmlsafe
from adapter.soap.xmlsafe import Limits
from adapter.wl2.client import ANSWER_LIMITS
from tests.soap.test_xml_byte_skips import PROLOGS
from tests.support.fuzzing import COMMON
from tests.support.servers import ROOT

LIMITS = [Limits(), ANSWER_LIMITS, Limits(max_namespaces=2, max_name_chars=5), Limits(max_namespaces=0)]


def both(data: bytes, limits: Limits) -> tuple:
    python, compiled = xmlsafe.SCANS["python"](data, limits), xmlsafe.SCANS["compiled"](data, limits)
    assert compiled == python, (data[:300], limits)
    assert [type(v) for v in compiled or ()] == [type(v) for v in python or ()]  # True, not 1
    return python


def test_the_compiled_scan_was_built_and_is_the_one_used():
    assert list(xmlsafe.SCANS) == ["python", "compiled"] and xmlsafe.SCAN == "compiled"


@pytest.mark.parametrize("limits", LIMITS)
def test_the_twins_agree_on_every_example_message(limits):
    messages = sorted(ROOT.glob("examples/**/*.xml"))
    assert len(messages) > 50
    facts = [both(path.read_bytes(), limits) for path in messages]
    if limits in (Limits(), ANSWER_LIMITS):  # most are spared the namespace walk and the name probe
        assert sum(f is not None and f[2] is not None and f[4] for f in facts) > 40


DECLARATIONS = [
    "", '<?xml version="1.0"?>', "<?xml version='1.0' encoding='utf-8'?>", '<?xml version="1.0" encoding="UTF-16"?>',
    '<?xml version="1.0" encoding="utf-7"?>', '<?xml version="1.0" encoding="ISO-8859-15" standalone="yes"?>',
    '<?xml version="1.0" encoding="no-such-thing"?>', '<?xml version="1.0" encoding=utf-8?>',
    '<?xml version="1.0" encoding = "cp1252"?>', '<?xml\tversion="1.0"?>', '<?xml-stylesheet href="s"?>',
    '<?xml version="1.0" xmlns:a="b"?>', '<?xml version="1.0"' + " " * 600 + "?>", '<?xml version="1.0"',
    '<?xml  encoding="shift_jis"?>', "<?xml?>",
]


@pytest.mark.parametrize("declaration", DECLARATIONS)
def test_the_twins_agree_on_prologs(declaration):
    for start in ("", "\ufeff", "\n \t", "\ufeff\r\n"):
        for prolog in PROLOGS:
            text = start + declaration + prolog + '<r xmlns="urn:a" xmlns:p="urn:b" a="1">x<p:e/></r>'
            for encoding in ("utf-8", "utf-16-le", "utf-32"):
                for limits in LIMITS:
                    both(text.encode(encoding), limits)


@pytest.mark.parametrize("data", [
    b"", b" ", b"<", b"<\x00", b"<\x00\x00\x00r/>", b"\xef\xbb\xbf", b"\xef\xbb\xbf<r/>", b"\xef\xbb<r/>", b"x",
    b"xmlns", b'xmlns="a"<r/>', b'<r xmlns', b'<r xmlns=', b'<r xmlns="', b'<r xmlns:="a"/>', b'<r xmlns:p="a"',
    b"<r\x0bxmlns:p='a'/>", b"<r\nxmlns:p\t=\r'a'/>", b'<r xmlns:p\x0b="a"/>', b"<r xmlns:p=\"a'/>",
    b'<r xmlns:p="&amp;"/>', b'<r xmlns:p="<"/>', b"<r>" + b"x" * 300 + b"</r>", b"<r>" + b"x" * 256 + b"</r>",
    b"<r>" + b"x" * 255 + b"</r>", b"<" + b"a" * 300 + b"/>", b"<!DOCTYPE r><r/>", b"<?pi?><!DOCTYPE", b"=" * 20,
    b"<r>" + b"=" * 600 + b"</r>", b"<r>" + (b"a" * 256 + b" ") * 3 + b"</r>", b"<r>" + b"a" * 257 + b"</r>",
])
def test_the_twins_agree_on_edges(data):
    for limits in LIMITS:
        both(data, limits)


def test_a_declarations_encoding_is_judged_once():
    xmlsafe.declared_ascii.cache_clear()
    data = b'<?xml version="1.0" encoding="windows-1252"?><r/>'
    for _ in range(3):
        both(data, Limits())
    info = xmlsafe.declared_ascii.cache_info()
    assert info.misses == 1 and info.hits >= 5 and info.currsize == 1
    assert codecs.lookup("windows-1252").name in xmlsafe._ASCII_SUPERSETS


# What the rules turn on: white space of every kind, the bytes names cannot hold, 'x' alone and in 'xmlns', quotes,
# '&', a BOM, NUL, prologs, and runs around the small limits below.
PIECES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "<", ">", "=", "/", '"', "'", "&", ":", "x", "xmlns", "xmlns:",
          " xmlns:p=", ' xmlns="', " xmlns:p='u'", ' xmlns:q="uuuuu"', ' xmlns:qqqqqq="u"', "a", "aaaa", "aaaaa",
          "aaaaaa", "x" * 100, "<?", "?>", "<!--", "-->", "<!", "<!DOCTYPE r>", "<?xml ", 'encoding="utf-8"',
          "encoding='utf-16'", "\x00", "é", "\ufeff", "<r>", "</r>", "<e a='1'/>"]
STARTS = ["", "<", "<?xml ", '<?xml version="1.0" encoding="latin-1"?>', "\ufeff", " \n", "<r ", "<?xml-x "]


@settings(COMMON, max_examples=3000)
@given(start=st.sampled_from(STARTS), pieces=st.lists(st.sampled_from(PIECES), max_size=40),
       namespaces=st.integers(0, 4), names=st.integers(1, 6))
def test_the_twins_agree_on_generated_documents(start, pieces, namespaces, names):
    data = (start + "".join(pieces)).encode("utf-8")
    both(data, Limits(max_namespaces=namespaces, max_name_chars=names))


# Trees of elements, with texts, comments and processing instructions between them (nodes the depth walk skips)
TREES = st.recursive(st.sampled_from(["", "t", "<!--c-->", "<?p x?>"]),
                     lambda inner: st.lists(inner, max_size=4).map(lambda kids: "<e>" + "".join(kids) + "</e>"),
                     max_leaves=40)


@settings(COMMON, max_examples=1500)
@given(tree=TREES)
def test_the_depth_twins_agree(tree):
    """``deeper_than`` (compiled) says what the XPath probe says, for every limit up to the tree's depth and past it."""
    root = etree.fromstring(f"<r>{tree}</r>".encode())
    depth = max(sum(1 for _ in el.iterancestors()) for el in root.iter("*")) + 1
    for most in range(0, depth + 2):
        probe = xmlsafe._Probes(Limits(max_depth=most)).too_deep(root)
        assert xmlsafe.DEEPER["compiled"](root, most) is probe, (tree, most)


def test_the_depth_walk_is_the_one_used_with_the_compiled_scan():
    assert list(xmlsafe.DEEPER) == ["compiled"]
