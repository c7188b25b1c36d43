"""The WL 2.0 simulator: plays SBB for integration testers and for the adapter's own tests.

Start it with ``wl-adapter simulate``; see docs/simulator.md. This module stays import-light so that the adapter
can import the constants below without pulling in the simulator.
"""
from __future__ import annotations

DEFAULT_OIN = "00000003273462010000"
"""SBB's OIN as the simulator plays it (``--oin``): the receiver OIN in ``wsa:To``, the sender OIN of pushes."""

ENDPOINT_PATH = "/wl2"
