"""Tests of adapter/store/: the durable store on SQLite and PostgreSQL."""
