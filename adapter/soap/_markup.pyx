# cython: language_level=3
"""``xmlbuild.py``'s writing of an answer's dict as text, compiled: the same text, in a quarter of the time.

Writing a 25-result search answer (~400 values) in Python cost ~120 µs (bench/profile_calls.py --steps): a loop, a
few tests and an f-string per value, all of it interpreter steps. Compiled line for line, the same steps cost ~54 µs;
half of that was still four substring searches per value (is there anything to escape?) and two concatenations
(start tag + text + end tag) per element. Now one ``strcspn`` answers the first for the text most values are (one
byte per character), the three parts go to the list as they are and are joined once, and a tag pair is a plain dict
lookup: ~27 µs (docs/figures.md, eleventh round). It is ``xmlbuild._write`` step for step (the tags, the escaping and
the text of other values are ``xmlbuild``'s own, handed in), and tests/soap/test_xmlbuild.py holds the two against
each other and against lxml's tree. ``xmlbuild`` uses it when it was built (setup.py; without a C compiler it is
left out).
"""
from cpython.unicode cimport PyUnicode_1BYTE_KIND, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND
from libc.string cimport strcspn


def markup(data, tags, escape, text):
    """``xmlbuild.markup`` with ``tags`` (an ``xmlbuild._Tags``: its missing names are made on demand, so a name
    not in it is looked up as in a mapping, never as in a plain dict), ``escape`` and ``text`` (``xmlbuild.escape``
    and ``_text``)."""
    cdef list parts = []
    _write(parts, data, tags, escape, text)
    return "".join(parts)


cdef inline bint _needs_escape(str value):
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(value)
    if PyUnicode_KIND(value) == PyUnicode_1BYTE_KIND:
        # compact one-byte text ends in a NUL; an embedded NUL stops strcspn early, which only sends the value
        # through ``escape`` for nothing (it changes only &, <, > and CR)
        return <Py_ssize_t>strcspn(<const char*>PyUnicode_DATA(value), "&<>\r") < n
    return "&" in value or "<" in value or ">" in value or "\r" in value


cdef inline tuple _pair(tags, name):
    """``tags[name]``: a plain dict lookup first (``tags`` is a dict that makes a missing pair on demand)."""
    cdef object pair = (<dict>tags).get(name)
    return <tuple>(tags[name] if pair is None else pair)


cdef int _write(list parts, data, tags, escape, text) except -1:
    cdef tuple pair
    for name, value in data.items():
        cls = type(value)
        if cls is str:
            if _needs_escape(<str>value):
                value = escape(value)
            pair = _pair(tags, name)
            parts.append(pair[0]); parts.append(value); parts.append(pair[1])
        elif cls is int:
            pair = _pair(tags, name)
            parts.append(pair[0]); parts.append(str(value)); parts.append(pair[1])
        elif value is None:
            continue
        elif cls is dict:
            _write_complex(parts, value, _pair(tags, name), tags, escape, text)
        elif isinstance(value, list):
            _write_items(parts, value, _pair(tags, name), tags, escape, text)
        else:
            _write_items(parts, (value,), _pair(tags, name), tags, escape, text)
    return 0


cdef int _write_items(list parts, items, tuple pair, tags, escape, text) except -1:
    cdef str start = pair[0], end = pair[1]
    for item in items:
        cls = type(item)
        if cls is str:
            if _needs_escape(<str>item):
                item = escape(item)
            parts.append(start); parts.append(item); parts.append(end)
        elif cls is int:
            parts.append(start); parts.append(str(item)); parts.append(end)
        elif isinstance(item, dict):
            _write_complex(parts, item, pair, tags, escape, text)
        else:
            parts.append(start); parts.append(escape(text(item))); parts.append(end)
    return 0


cdef int _write_complex(list parts, data, tuple pair, tags, escape, text) except -1:
    cdef str start = pair[0]
    parts.append(start)
    cdef Py_ssize_t mark = len(parts)
    _write(parts, data, tags, escape, text)
    if len(parts) == mark:
        parts[-1] = start[:-1] + "/>"
    else:
        parts.append(pair[1])
    return 0
