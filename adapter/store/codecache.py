"""Resolved codes kept per Store, coherent with every other process through the mapping generation.

Every WL 1.0 call carrying a CodeLeerbedrijf resolves it; reading the store each time costs a pool checkout, a
transaction and a query (about an eighth of a worker's CPU for VerifieerAccreditatie). So answers are kept here,
"not mapped" answers too, each set tagged with the mapping generation it was read under (store/mappings.py: every
transaction that changes code_mapping raises it). A cached answer is served only while the generation was confirmed
less than ``check_s`` seconds ago; after that the next lookup asks the store, which reads the code and the
generation in one statement, and a newer generation drops every cached answer. Hence:

- a change this Store makes (add_mapping, an import, an ID change pushed to this worker) drops the cache at once:
  the Store hands over the generation its own transaction committed;
- a change another process makes is seen at the latest ``check_s`` seconds after it was committed;
- with ``check_s`` = 0 every lookup reads the store, as if there were no cache.

The bound holds because a cached answer is trusted only until ``read_at + check_s`` for reads that found the
cache's generation, and ``read_at`` is taken before the query: any change the read did not see was committed after
it. Threads race freely; an answer read under an older generation than the one already adopted is not kept.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from cachetools import LRUCache

MISSING = object()  # "ask the store", as distinct from a cached "no mapping" (None)
# More companies than a large school's systems name in a day, and about 5 MB per worker when full (measured with
# tracemalloc: 50,000 answers took 12.8 MB): a worker should stay near 80 MB. Least recently used goes first, so a
# client trying random codes cannot push out the hot ones for long; a miss costs what every lookup cost before.
MAX_CODES = 20_000


class CodeCache:
    """Thread-safe. ``get`` first; on MISSING read (generation, answer) in one statement and ``put`` it."""

    def __init__(self, check_s: float, maxsize: int = MAX_CODES, clock: Callable[[], float] = time.monotonic):
        if not 0 <= check_s < math.inf:  # NaN or inf would trust a cached answer forever
            raise ValueError(f"mapping_check_s must be a number >= 0, got {check_s}")
        self.check_s = check_s
        self.clock = clock
        self._codes: LRUCache = LRUCache(maxsize)
        self._lock = threading.Lock()
        self._generation: int | None = None  # the generation every cached answer was read under
        self._since = float("-inf")  # when that generation was adopted (a read begun earlier may be older)
        self._trusted_until = float("-inf")  # until then the cached answers are served without asking the store

    def get(self, code: str):
        """The cached answer (a LeerbedrijfId, or None: not mapped), or MISSING: ask the store."""
        with self._lock:
            if self.clock() >= self._trusted_until:
                return MISSING
            return self._codes.get(code, MISSING)

    def put(self, code: str, answer: str | None, generation: int, read_at: float) -> None:
        """Keep an answer the store gave under ``generation`` in a read begun at ``read_at`` (``clock()``)."""
        with self._lock:
            if generation != self._generation:
                if not self._newer(generation, read_at):
                    return  # read before a newer generation was adopted: it may miss that change
                self._adopt(generation, read_at)
            self._codes[code] = answer
            self._trusted_until = max(self._trusted_until, read_at + self.check_s)

    def changed(self, generation: int) -> None:
        """This Store changed the mapping and committed ``generation``: drop what an older one said, now."""
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._adopt(generation, self.clock())

    def _newer(self, generation: int, read_at: float) -> bool:
        """Generations only rise, so a higher one is newer. A lower one read after the current one was adopted
        means the database went back (restored, or recreated): adopt it too rather than never cache again."""
        return self._generation is None or generation > self._generation or read_at > self._since

    def _adopt(self, generation: int, at: float) -> None:
        self._codes.clear()
        self._generation = generation
        self._since = max(self._since, at)
