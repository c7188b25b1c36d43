# cython: language_level=3
"""``reader.py``'s walk of a WL 2.0 answer, compiled: the same tables, the same dicts, without an lxml element object
per element.

Reading a 25-result search answer in Python cost ~300 µs (measured with bench/profile_calls.py --steps), over half
of it lxml making an element object, its tag and its text for each of ~700 elements. This walk reads libxml2's
nodes directly through lxml's public C API (the tree stays lxml's, and stays alive through ``element`` while the
walk holds the GIL), finds a child in the WL 2.0 namespace by its local name, and turns xs:int into an int in C:
~120 µs for the same answer. Everything else is exactly ``reader._read``: the shapes, which child is read how, what
becomes None. ``reader.py`` uses this module when it was built (``pip install`` compiles it; without a C compiler
it is left out and the Python walk is used), and tests/wl2/test_reader.py holds both walks against zeep's reading.

An element's text is lxml's ``.text``: its leading text and CDATA nodes joined (lxml's ``_collectText``), None when
it has none, '' when they are empty.

Compiled code runs no bytecode, so CPython never asks it for the GIL: an answer of megabytes, read on a thread of its
own (``wl2/client.py``), would hold a gevent worker's thread out for the whole walk (100,000 subscriptions: ~90 ms).
So every ``_PAUSE_EVERY`` elements the walk calls ``pause``, a Python function of bytecode (``reader.py``), where
CPython hands the GIL to a thread that has asked for it. (Releasing the GIL there instead, ``with nogil``, does not:
released and taken back every ~150 µs, the other thread's wait never times out, so it never asks; measured, it then
waited the whole walk, as without.)
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport _Element, import_lxml__etree

from adapter import ns

import_lxml__etree()

# how a child is read: reader.py's _TEXT, _CONVERTED, _COMPLEX, _INT, _DATE (reader.py checks they agree)
cdef enum:
    TEXT = 0
    CONVERTED = 1
    COMPLEX = 2
    INT = 3
    DATE = 4

HOWS = (TEXT, CONVERTED, COMPLEX, INT, DATE)

cdef bytes _NAMESPACE = ns.WL2.encode("utf-8")

cdef object _fromisoformat = __import__("datetime").date.fromisoformat


cdef enum:
    _PAUSE_EVERY = 1024  # elements: ~150 µs of walking (an ordinary answer has fewer)

cdef unsigned int _visited = 0  # elements walked, by every walk (only counted with the GIL held)


cdef inline tree.xmlNode* _text_or_skip(tree.xmlNode* c) noexcept:
    """lxml's ``_textNodeOrSkip``: a text or CDATA node, skipping XInclude markers; NULL at anything else."""
    while c is not NULL:
        if c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE:
            return c
        if c.type != tree.XML_XINCLUDE_START and c.type != tree.XML_XINCLUDE_END:
            return NULL
        c = c.next
    return NULL


cdef inline str _utf8(const char* s):
    return PyUnicode_DecodeUTF8(s, strlen(s), NULL)


cdef object _text(tree.xmlNode* c_node):
    """lxml's ``.text`` of an element (``_collectText(c_node.children)``)."""
    cdef tree.xmlNode* first = _text_or_skip(c_node.children)
    cdef tree.xmlNode* cur = first
    cdef const char* c_text = NULL
    cdef Py_ssize_t count = 0
    while cur is not NULL:
        if cur.content[0] != 0:
            c_text = <const char*>cur.content
        count += 1
        cur = _text_or_skip(cur.next)
    if c_text is NULL:
        return "" if count > 0 else None
    if count == 1:
        return _utf8(c_text)
    cdef list parts = []
    cur = first
    while cur is not NULL:
        parts.append(<bytes><const char*>cur.content)
        cur = _text_or_skip(cur.next)
    return b"".join(parts).decode("utf-8")


cdef str _tag(tree.xmlNode* c):
    """lxml's ``.tag``: ``{namespace}local``, or the local name alone outside any namespace."""
    if c.ns is NULL or c.ns.href is NULL:
        return _utf8(<const char*>c.name)
    return "{" + _utf8(<const char*>c.ns.href) + "}" + _utf8(<const char*>c.name)


cdef object _date(str text, fallback):
    """reader.py's ``_read_date``."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            return _fromisoformat(text)
        except ValueError:
            pass
    return fallback(text)


cdef dict _read(tree.xmlNode* c_node, shape, pause):
    cdef dict result = shape.template.copy()
    for name in shape.lists:
        result[name] = []
    cdef dict entries = shape.entries
    cdef dict local_entries = shape.local_entries
    cdef const char* namespace = _NAMESPACE
    cdef tree.xmlNode* c = c_node.children
    cdef int how
    global _visited
    while c is not NULL:
        if c.type == tree.XML_ELEMENT_NODE:
            _visited += 1
            if _visited % _PAUSE_EVERY == 0:
                pause()
            if c.ns is not NULL and c.ns.href is not NULL and strcmp(<const char*>c.ns.href, namespace) == 0:
                entry = local_entries.get(_utf8(<const char*>c.name))
            else:
                entry = entries.get(_tag(c))  # not in the contract's namespace: never an entry, as in reader.py
            if entry is not None:
                name, how, reader, repeats = entry
                if how == COMPLEX:
                    value = _read(c, reader, pause)
                else:
                    value = _text(c)
                    if value is not None and how != TEXT:
                        try:
                            if how == INT:
                                value = int(value)
                            elif how == DATE:
                                value = _date(value, reader)
                            else:
                                value = reader(value)
                        except (TypeError, ValueError):  # as zeep does: an unreadable value is None
                            value = None
                if repeats:
                    result[name].append(value)
                else:
                    result[name] = value
        c = c.next
    return result


def read_complex(_Element element not None, shape, pause):
    """``reader._read(element, shape)``, compiled; ``pause()`` is called every ``_PAUSE_EVERY`` elements."""
    return _read(element._c_node, shape, pause)
