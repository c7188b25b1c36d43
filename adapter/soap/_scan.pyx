# cython: language_level=3, boundscheck=False, wraparound=False
"""``xmlsafe._scan`` compiled: what a document's raw bytes say before it is parsed, found in C without a step per byte.

In Python these are five functions (``_ascii_markup``, ``_declares_dtd``, ``_namespace_declarations``,
``_declaration_equals``, ``_names_fit``) and as many passes; every message from the network goes through them, and
timed inside real calls they cost ~55 µs of a simple call (two ~1 kB messages) and ~125 µs of a 25-result search.
Timed alone, this twin takes 0.9 µs for a 1 kB answer (Python: 11) and 3 µs for a 31 kB one (Python: 49): it
finds the bytes that matter (an 'x', the end of a run of name bytes) without a step per byte, and counts '=' with
vector instructions. (Its first form went one byte at a time: 28-34 µs for the 31 kB answer.)
Each is the same rule, read off the same bytes: the tests (tests/soap/test_xml_scan.py) hold the two twins equal
on the example messages and on thousands of generated documents, and run the xmlsafe tests with each. ``xmlsafe``
uses this one when setup.py could build it, and with it ``deeper_than``: the depth limit checked after parsing by
a walk of the tree's elements in C, where the Python twin asks libxml2's XPath.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport _Element, import_lxml__etree

import_lxml__etree()

cdef extern from "string.h":
    void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen) nogil
    void *memchr(const void *s, int c, size_t n) nogil

# all ones for a byte a name may hold (not white space, '<', '>', '=', '/', quotes: ``xmlsafe._NAME_BYTES``), else 0
cdef Py_ssize_t NAME[256]
# 1 for a byte of a declaration's prefix: ``[^\s=<>"'&/]`` of ``xmlsafe._namespace_declarations``'s pattern
cdef unsigned char PREFIX[256]
cdef int _b
for _b in range(256):
    NAME[_b] = 0 if _b in b" \t\r\n<>=/\"'" else -1
    PREFIX[_b] = 0 if _b in b" \t\n\r\x0b\x0c=<>\"'&/" else 1


cdef inline bint _white(unsigned char c) nogil:
    return c == 32 or c == 9 or c == 13 or c == 10  # " \t\r\n"


cdef inline bint _at(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, const char *what, Py_ssize_t k) nogil:
    """Do the ``k`` bytes ``what`` stand at ``i``?"""
    cdef Py_ssize_t j
    if i < 0 or i + k > n:
        return False
    for j in range(k):
        if s[i + j] != <unsigned char>what[j]:
            return False
    return True


cdef Py_ssize_t _find(const unsigned char *s, Py_ssize_t n, Py_ssize_t start, const char *what, Py_ssize_t k) nogil:
    """``bytes.find`` from ``start``: where ``what`` (``k`` bytes) begins, or -1."""
    if start >= n:
        return -1
    cdef const unsigned char *found = <const unsigned char *>memmem(s + start, n - start, what, k)
    return -1 if found == NULL else found - s


cdef inline Py_ssize_t _next(const unsigned char *s, Py_ssize_t n, Py_ssize_t start, int byte) nogil:
    """Where the next ``byte`` from ``start`` is (memchr), or -1."""
    if start >= n:
        return -1
    cdef const unsigned char *found = <const unsigned char *>memchr(s + start, byte, n - start)
    return -1 if found == NULL else found - s


cdef Py_ssize_t _count(const unsigned char *s, Py_ssize_t n, unsigned char byte) nogil:
    """``bytes.count`` of one byte, without a branch: counted in a byte per 255 bytes, which the compiler turns into
    vector instructions (a memchr per occurrence took 6.5 ms for a MiB of '=': a call per byte)."""
    cdef Py_ssize_t i = 0, j, end, count = 0
    cdef unsigned char part
    while i < n:
        end = i + 255 if n - i > 255 else n
        part = 0
        for j in range(i, end):
            part += s[j] == byte
        count += part
        i = end
    return count


cdef bint _long_run(const unsigned char *s, Py_ssize_t n, Py_ssize_t most) nogil:
    """Is there a run of more than ``most`` name bytes (``NAME``)? Without looking at every byte: no such run starts
    before ``p``; one that starts anywhere from ``p`` to ``q = p + most`` holds the byte at ``q``. So the bytes from
    ``q`` back are read until one that no name holds: none down to ``p``, and there is such a run; else none starts
    up to that byte, and the next window begins after it. In markup a name byte is seldom more than a few bytes from
    the next white space or '<', so a 30 kB answer costs a few bytes per ``most`` bytes; at worst a byte is read
    twice (the window after a byte that no name holds reads back at most to that byte)."""
    cdef Py_ssize_t p = 0, q
    while p + most < n:
        q = p + most
        while q >= p and NAME[s[q]]:
            q -= 1
        if q < p:
            return True
        p = q + 1
    return False


cdef bint _declares_dtd(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) nogil:
    """``xmlsafe._declares_dtd`` of the bytes from ``i`` (after a UTF-8 BOM)."""
    cdef Py_ssize_t end
    while i < n:
        if _white(s[i]):
            i += 1
        elif _at(s, n, i, b"<?", 2):
            end = _find(s, n, i + 2, b"?>", 2)
            if end < 0:
                return False  # unterminated: not well-formed, the parser says so
            i = end + 2
        elif _at(s, n, i, b"<!--", 4):
            end = _find(s, n, i + 4, b"-->", 3)
            if end < 0:
                return False
            i = end + 3
        else:
            return _at(s, n, i, b"<!", 2)
    return False


cdef bint _declaration(const unsigned char *s, Py_ssize_t n, Py_ssize_t at, Py_ssize_t most) nogil:
    """Does a namespace declaration with a quoted value of at most ``most`` bytes, none of them '&' or '<', begin
    at ``at`` (``xmlns``)? ``xmlsafe._namespace_declarations``'s pattern: its runs can only end one way, so no
    backtracking could make it match where this does not."""
    cdef Py_ssize_t p = at + 5, start
    cdef unsigned char quote, c
    if p < n and s[p] == 58:  # ':' and a prefix of 1 to ``most`` bytes
        start = p + 1
        p = start
        while p < n and PREFIX[s[p]]:
            p += 1
        if p == start or p - start > most:
            return False
    while p < n and _white(s[p]):
        p += 1
    if p >= n or s[p] != 61:  # '='
        return False
    p += 1
    while p < n and _white(s[p]):
        p += 1
    if p >= n or (s[p] != 34 and s[p] != 39):  # '"' or "'"
        return False
    quote = s[p]
    p += 1
    start = p
    while p < n:
        c = s[p]
        if c == quote or c == 38 or c == 60:  # the quote, '&', '<'
            break
        p += 1
    return p < n and s[p] == quote and p - start <= most


def scan(bytes data, lim, declared_ascii, Py_ssize_t other_xs):
    """``xmlsafe._scan(data, lim)``; ``declared_ascii`` is ``xmlsafe.declared_ascii`` (asked only of an XML
    declaration that says 'encoding'), ``other_xs`` is ``xmlsafe._OTHER_XS``."""
    cdef const unsigned char *s = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t most_name = lim.max_name_chars, most_namespaces = lim.max_namespaces
    cdef Py_ssize_t bom = 3 if _at(s, n, 0, b"\xef\xbb\xbf", 3) else 0
    cdef Py_ssize_t body = bom, end = -1, i, declarations = 0, others = 0, equals = 0, in_declaration = 0
    cdef bint names_fit = True, namespaces_fit = True
    # -- _ascii_markup: '<' first (after the BOM and white space), not '<\0' (UTF-16-LE, UTF-32-LE)
    while body < n and _white(s[body]):
        body += 1
    if body >= n or s[body] != 60 or (body + 1 < n and s[body + 1] == 0):
        return None
    if _at(s, n, body, b"<?xml", 5) and body + 5 < n and _white(s[body + 5]):
        end = _find(s, n if n - body <= 512 else body + 512, body, b"?>", 2)  # closed within 512 bytes
        if end < 0:
            return None
        if memmem(s + body, end - body, b"encoding", 8) != NULL and not declared_ascii(data[body:end]):
            return None
    # -- '=', runs of name bytes, and every 'x' (``_namespace_declarations``), each found without a step per byte
    equals = _count(s, n, 61)
    names_fit = not _long_run(s, n, most_name)
    i = _next(s, n, 0, 120)
    while i >= 0:  # every 'x'
        if _at(s, n, i, b"xmlns", 5):
            declarations += 1
            # (i is never 0 here, the markup begins with '<'; asked all the same, so that s[-1] is never read)
            if declarations > most_namespaces or i == 0 or not _white(s[i - 1]) \
                    or not _declaration(s, n, i, most_name):
                namespaces_fit = False
                break
        else:
            others += 1
            if others > other_xs:
                namespaces_fit = False
                break
        i = _next(s, n, i + 1, 120)
    if not namespaces_fit:
        return _declares_dtd(s, n, bom), equals, None, None, names_fit
    if end >= 0:  # ``_declaration_equals``: None when the declaration holds 'xmlns' (a PI's '=' counted twice)
        if memmem(s + body, end - body, b"xmlns", 5) != NULL:
            return _declares_dtd(s, n, bom), equals, declarations, None, names_fit
        for i in range(body, end):
            in_declaration += s[i] == 61
    return _declares_dtd(s, n, bom), equals, declarations, in_declaration, names_fit


def deeper_than(_Element root, Py_ssize_t most):
    """Is an element of ``root``'s tree nested more than ``most`` levels deep (``root`` is level 1)? The XPath probe
    ``xmlsafe._Probes.too_deep`` asks the same: libxml2 makes a node set of every level's elements for it, 13-26 µs
    for a 25-result WL 2.0 answer (683 elements, 7 levels); this walk of the element nodes takes ~3. Asked after
    parsing, of a tree libxml2 has already nested at most a few hundred levels deep."""
    cdef tree.xmlNode *node = root._c_node
    cdef tree.xmlNode *child
    cdef Py_ssize_t depth = 1
    if most < 1:
        return True
    while True:
        child = node.children  # down to the first element child, if there is one
        while child is not NULL and child.type != tree.XML_ELEMENT_NODE:
            child = child.next
        if child is not NULL:
            depth += 1
            if depth > most:
                return True
            node = child
            continue
        while True:  # else on to the next element after this one, climbing back up as far as needed
            if node is root._c_node:
                return False
            child = node.next
            while child is not NULL and child.type != tree.XML_ELEMENT_NODE:
                child = child.next
            if child is not NULL:
                node = child
                break
            node = node.parent
            depth -= 1
