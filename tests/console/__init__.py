"""Tests of adapter/console/: the operator console, its configuration and pages (in headless Chromium)."""
