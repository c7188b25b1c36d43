"""Tests of adapter/translate/: the translation rules as plain functions."""
