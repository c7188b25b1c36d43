"""Serving the adapter: WSGI routing, building the app from its configuration, and the gunicorn runner."""
