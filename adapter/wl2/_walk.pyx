# cython: language_level=3
"""``reader.py``'s walk of a WL 2.0 answer, compiled: the same tables, the same dicts, without an lxml element object
per element.

Reading a 25-result search answer in Python cost ~300 µs (measured with bench/profile_calls.py --steps), over half
of it lxml making an element object, its tag and its text for each of ~700 elements. This walk reads libxml2's
nodes directly through lxml's public C API (the tree stays lxml's, and stays alive through ``element`` while the
walk holds the GIL): ~120 µs for the same answer. Half of that was still Python objects made per element only to be
looked up: each child's name as a str, hashed for the dict of its shape's children, and the shape's attributes read
per element. Now each shape has a table (``_Table``, made before workers fork) of its children's local names as C
strings, compared with ``strcmp`` from where the next child most likely is (they come in XSD order); the WL 2.0
namespace is one pointer comparison once seen in the document; and an xs:int of plain digits is read in C: ~52 µs
(docs/figures.md, eleventh round). Everything else is exactly ``reader._read``: the shapes, which child is read
how, what becomes None. ``reader.py`` uses this module when it was built (``pip install`` compiles it; without a C
compiler it is left out and the Python walk is used), and tests/wl2/test_reader.py holds both walks against zeep's
reading.

An element's text is lxml's ``.text``: its leading text and CDATA nodes joined (lxml's ``_collectText``), None when
it has none, '' when they are empty.

Compiled code runs no bytecode, so CPython never asks it for the GIL: an answer of megabytes, read on a thread of its
own (``wl2/client.py``), would hold a gevent worker's thread out for the whole walk (100,000 subscriptions: ~90 ms).
So every ``_PAUSE_EVERY`` elements the walk calls ``pause``, a Python function of bytecode (``reader.py``), where
CPython hands the GIL to a thread that has asked for it. (Releasing the GIL there instead, ``with nogil``, does not:
released and taken back every ~150 µs, the other thread's wait never times out, so it never asks; measured, it then
waited the whole walk, as without.)
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
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
cdef const char* _NAMESPACE_C = _NAMESPACE

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


cdef class _Table:
    """A complex shape's children as the walk matches them: their local names in the WL 2.0 namespace as C strings
    (compared with ``strcmp``, starting after the child matched last, or at it when it repeats: children come in
    XSD order, so the first comparison usually matches), with per child how it is read, its key in the dict, its
    converter or the child's own table, and whether it repeats. Made once per shape (``_table``)."""
    cdef object shape  # holds the shape (its converters, and the id the table is kept under) alive
    cdef dict template
    cdef tuple lists
    cdef dict entries  # by full tag: what a child outside the WL 2.0 namespace is looked up in
    cdef Py_ssize_t n
    cdef list _local  # the names' bytes, which ``names`` points into
    cdef const char** names
    cdef int* hows
    cdef bint* repeats
    cdef list keys
    cdef list readers

    def __dealloc__(self):
        PyMem_Free(self.names)
        PyMem_Free(self.hows)
        PyMem_Free(self.repeats)


cdef dict _tables = {}  # id(shape) -> its _Table


cdef _Table _table(shape):
    """The table of ``shape``, made on its first walk (a child's table with it); the shapes never change."""
    cdef _Table t = _tables.get(id(shape))
    if t is not None:
        return t
    t = _Table()
    t.shape, t.template, t.lists, t.entries = shape, shape.template, tuple(shape.lists), shape.entries
    local = list(shape.local_entries.items())
    cdef Py_ssize_t i, n = len(local)
    t.n = 0  # until its names are in: a table is found (below) before its children's tables are made
    t.names = <const char**>PyMem_Malloc(max(n, 1) * sizeof(char*))
    t.hows = <int*>PyMem_Malloc(max(n, 1) * sizeof(int))
    t.repeats = <bint*>PyMem_Malloc(max(n, 1) * sizeof(bint))
    if t.names is NULL or t.hows is NULL or t.repeats is NULL:
        raise MemoryError()
    t._local, t.keys, t.readers = [], [], []
    _tables[id(shape)] = t  # before the children's tables: a shape that held itself would find it
    for i, (local_name, (name, how, reader, repeats)) in enumerate(local):
        t._local.append(local_name.encode("utf-8"))
        t.names[i] = <const char*>t._local[i]
        t.hows[i], t.repeats[i] = how, repeats
        t.keys.append(name)
        t.readers.append(_table(reader) if how == COMPLEX else reader)
    t.n = n
    return t


cdef inline Py_ssize_t _slot(_Table t, const char* name, Py_ssize_t start) noexcept:
    """Which of ``t``'s children is named ``name`` (its local name), looking from ``start`` on, then before it;
    -1 when none is. (``start`` may be ``t.n``.)"""
    cdef Py_ssize_t j
    for j in range(start, t.n):
        if strcmp(name, t.names[j]) == 0:
            return j
    for j in range(0, start):
        if strcmp(name, t.names[j]) == 0:
            return j
    return -1


cdef object _small_int(tree.xmlNode* c_node):
    """``int()`` of the element's text where that is one text node of an optional '-' and 1 to 18 ASCII digits
    (what an xs:int or xs:long in an answer is), made in C; None for anything else, which ``int()`` then reads."""
    cdef tree.xmlNode* node = _text_or_skip(c_node.children)
    if node is NULL or _text_or_skip(node.next) is not NULL:
        return None
    cdef const unsigned char* s = <const unsigned char*>node.content
    cdef bint negative = s[0] == c'-'
    if negative:
        s += 1
    cdef long long value = 0
    cdef int digits = 0
    while c'0' <= s[digits] <= c'9':
        if digits == 18:
            return None
        value = value * 10 + (s[digits] - c'0')
        digits += 1
    if digits == 0 or s[digits] != 0:
        return None
    return -value if negative else value


cdef dict _read(tree.xmlNode* c_node, _Table t, pause, const tree.xmlChar** wl2):
    """``reader._read``. ``wl2``: where the walk keeps the pointer to the WL 2.0 namespace's name it has seen in
    this document, so that most children's namespace is one pointer comparison (the document lives, unchanged, for
    the whole walk)."""
    cdef dict result = t.template.copy()
    for name in t.lists:
        result[name] = []
    cdef tree.xmlNode* c = c_node.children
    cdef const tree.xmlChar* href
    cdef Py_ssize_t j, last = 0
    cdef int how
    cdef bint repeats
    global _visited
    while c is not NULL:
        if c.type == tree.XML_ELEMENT_NODE:
            _visited += 1
            if _visited % _PAUSE_EVERY == 0:
                pause()
            href = c.ns.href if c.ns is not NULL else NULL
            if href is not NULL and (href == wl2[0] or strcmp(<const char*>href, _NAMESPACE_C) == 0):
                wl2[0] = href
                j = _slot(t, <const char*>c.name, last)
                if j < 0:  # not in the contract: the XSD check reports it, zeep would skip it too
                    c = c.next
                    continue
                name, how, reader, repeats = t.keys[j], t.hows[j], t.readers[j], t.repeats[j]
                last = j if repeats else j + 1  # where the next child most likely is
            else:
                entry = t.entries.get(_tag(c))  # not in the contract's namespace: never an entry, as in reader.py
                if entry is None:
                    c = c.next
                    continue
                name, how, reader, repeats = entry
                if how == COMPLEX:
                    reader = _table(reader)
            if how == COMPLEX:
                value = _read(c, <_Table>reader, pause, wl2)
            elif how == INT and (value := _small_int(c)) is not None:
                pass
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


def prepare(shapes) -> int:
    """Make the table of every complex shape in ``shapes`` now (``reader.prepare``: in the master, before workers
    fork); how many tables there are."""
    for shape in shapes:
        if shape.how == COMPLEX:
            _table(shape)
    return len(_tables)


def read_complex(_Element element not None, shape, pause):
    """``reader._read(element, shape)``, compiled; ``pause()`` is called every ``_PAUSE_EVERY`` elements."""
    cdef const tree.xmlChar* wl2 = NULL
    return _read(element._c_node, _table(shape), pause, &wl2)
