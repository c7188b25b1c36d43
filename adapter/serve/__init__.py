"""Serving the adapter: configuration, tenants (licence -> school), WSGI routing, building the app from its configuration, and the gunicorn runner."""
