"""Tests of adapter/simulator/: the WL 2.0 simulator."""
