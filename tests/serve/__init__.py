"""Tests of adapter/serve/: HTTP as legacy clients speak it, on every legacy path."""
