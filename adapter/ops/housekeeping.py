"""Periodic housekeeping in each worker: delivered mutations past their retention are purged, and remembered
recognition proposals older than 24 hours are forgotten."""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

log = logging.getLogger("wl_adapter.housekeeping")


class Housekeeping:
    def __init__(self, store, retention: timedelta, every_s: float = 3600.0):
        self.store = store
        self.retention = retention
        self.every_s = every_s

    def start(self) -> None:
        threading.Thread(target=self._run, name="wl-housekeeping", daemon=True).start()

    def run_once(self) -> int:
        purged = self.store.purge_delivered(self.retention)
        if purged:
            log.info("purged %d delivered mutations older than %s", purged, self.retention)
        forgotten = self.store.purge_voordrachten()
        if forgotten:
            log.info("forgot %d recognition proposals older than 24 hours", forgotten)
        return purged

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - try again next round
                log.exception("housekeeping failed")
            time.sleep(self.every_s)
