"""Tools for a school's BPV administrators: check a placement export against WL 2.0 and report on it.

Why a package of its own: these are batch tools run by a person, next to (not inside) the live WL 1.0 face; they
reuse the face's pieces (code resolution, the WL 2.0 clients) so a placement is judged exactly as a live call would
resolve it.
"""
