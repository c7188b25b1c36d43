# cython: language_level=3
"""``xmlbuild.py``'s writing of an answer's dict as text, compiled: the same text, in half the time.

Writing a 25-result search answer (~400 values) in Python cost ~120 µs (bench/profile_calls.py --steps): a loop, a
few tests and an f-string per value, all of it interpreter steps; compiled, the same steps cost ~55 µs. It is
``xmlbuild._write`` line for line (the tags, the escaping and the text of other values are ``xmlbuild``'s own,
handed in), and tests/soap/test_xmlbuild.py holds the two against each other and against lxml's tree. ``xmlbuild``
uses it when it was built (setup.py; without a C compiler it is left out).
"""


def markup(data, tags, escape, text):
    """``xmlbuild.markup`` with ``tags`` (an ``xmlbuild._Tags``: its missing names are made on demand, so it is
    read as a mapping, never as a plain dict), ``escape`` and ``text`` (``xmlbuild.escape`` and ``_text``)."""
    cdef list parts = []
    _write(parts, data, tags, escape, text)
    return "".join(parts)


cdef inline bint _needs_escape(str value):
    return not value or "&" in value or "<" in value or ">" in value or "\r" in value


cdef int _write(list parts, data, tags, escape, text) except -1:
    cdef str start, end
    for name, value in data.items():
        cls = type(value)
        if cls is str:
            if _needs_escape(value):
                value = escape(value)
            start, end = tags[name]
            parts.append(start + value + end)
        elif cls is int:
            start, end = tags[name]
            parts.append(start + str(value) + end)
        elif value is None:
            continue
        elif cls is dict:
            _write_complex(parts, value, tags[name], tags, escape, text)
        elif isinstance(value, list):
            _write_items(parts, value, tags[name], tags, escape, text)
        else:
            _write_items(parts, (value,), tags[name], tags, escape, text)
    return 0


cdef int _write_items(list parts, items, tuple pair, tags, escape, text) except -1:
    cdef str start = pair[0], end = pair[1]
    for item in items:
        cls = type(item)
        if cls is str:
            if _needs_escape(item):
                item = escape(item)
            parts.append(start + item + end)
        elif cls is int:
            parts.append(start + str(item) + end)
        elif isinstance(item, dict):
            _write_complex(parts, item, pair, tags, escape, text)
        else:
            parts.append(start + escape(text(item)) + end)
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
