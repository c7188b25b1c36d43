"""Tests of adapter/soap/: the hardened XML parser, against the running adapter and on its own."""
