"""A worker's memory after large documents: glibc's allocator tuned, and freed memory handed back to the system.

Measured with bench/memory.py (docs/figures.md, "Worker memory"): a worker parsing 1 MiB requests on many threads
grew from 55 MB to over 500 MB, most of it memory already freed that glibc's allocator kept: an arena per busy
thread (up to 8 per core), blocks carved from those arenas once the largest block freed so far had raised glibc's
mmap threshold to 1 MiB, and free pages between the live ones that a large lxml tree leaves behind. ``tune`` caps
the arenas and fixes the mmap threshold; ``Trimmer`` collects what large requests left in reference cycles and
calls ``malloc_trim`` a moment after them, which returns the free pages inside the arenas too. (libxml2's names,
which it would keep per request thread, are handled where documents are parsed: soap/xmlsafe.py.)
Not glibc (musl, macOS): nothing happens.
"""
from __future__ import annotations

import ctypes
import gc
import os
import threading
import time

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024
LARGE_BODY = 64 * 1024  # a request at least this large is followed by a trim (real WL 1.0 calls are about 1 KB)
TRIM_DELAY_S = 1.0  # long enough for the last large call to be done and its objects freed
BUSY_CALLS = 64  # this many calls in flight at once (gevent holds hundreds) leave freed memory worth a trim
QUIET_CALLS = 4  # ... once the worker is back down to this many


def _libc():
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def tune(arena_max: int) -> bool:
    """Set in the master before it forks, so every worker has it:

    - at most ``arena_max`` arenas (as MALLOC_ARENA_MAX would, which glibc only reads when a process starts);
    - blocks of 128 KiB and more always from mmap, given back when freed (a fixed threshold stops glibc raising it
      to the largest block freed so far)."""
    if _LIBC is None:
        return False
    ok = bool(_LIBC.mallopt(M_ARENA_MAX, arena_max))
    ok &= bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return ok & bool(_LIBC.mallopt(M_TRIM_THRESHOLD, MMAP_THRESHOLD))


def trim() -> bool:
    """Hand the free pages of glibc's heap back to the system now (glibc only)."""
    return bool(_LIBC is not None and _LIBC.malloc_trim(0))


class Trimmer:
    """``large()`` once a large request is answered; a thread of the worker trims once no large request has been
    answered for ``TRIM_DELAY_S`` (by then the memory of the last one is free too), and every few seconds while
    they keep coming. A trim takes milliseconds, and happens only when large requests come in, or after a burst of
    ``BUSY_CALLS`` calls in flight at once (``call_started``/``call_done``)."""

    def __init__(self, delay_s: float = TRIM_DELAY_S):
        self.delay_s = delay_s
        self._due = threading.Event()
        self._pid = None
        self._lock = threading.Lock()
        self.trims = 0
        self._in_flight = 0
        self._was_busy = False

    def call_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            if self._in_flight >= BUSY_CALLS:
                self._was_busy = True

    def call_done(self) -> None:
        """A call is answered: after a burst of many calls at once, the memory they held is handed back once the
        worker is quiet again (with hundreds in flight, RSS rose by some 80 MB and stayed there)."""
        with self._lock:
            self._in_flight -= 1
            quiet_after_burst = self._was_busy and self._in_flight <= QUIET_CALLS
            if quiet_after_burst:
                self._was_busy = False
        if quiet_after_burst:
            self.large()

    def large(self) -> None:
        """A large request has just been answered."""
        if _LIBC is None:
            return
        if self._pid != os.getpid():  # lazily, in each worker: threads do not survive a fork
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._due = threading.Event()
                    threading.Thread(target=self._run, name="malloc-trim", daemon=True).start()
        self._due.set()

    def _run(self) -> None:
        due = self._due
        while True:
            due.wait()
            give_up = time.monotonic() + 5 * self.delay_s  # under steady large traffic: trim every few seconds
            while True:  # wait until no large request has been answered for delay_s (its memory is free by then)
                due.clear()
                time.sleep(self.delay_s)
                if not due.is_set() or time.monotonic() >= give_up:
                    break
            gc.collect()  # what large requests left in reference cycles (spyne's contexts) is freed first
            trim()
            self.trims += 1


TRIMMER = Trimmer()
