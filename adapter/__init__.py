"""wl-adapter: serves the legacy WL 1.0 White Label SOAP interface and fulfils every call through WL 2.0."""

__version__ = "0.1.0"
