"""What the store-using subcommands share: the exception that ends a command with an exit code and one line, and
opening (and migrating) the store, so every command reports an unusable store the same way (exit 3)."""
from __future__ import annotations

EXIT_STORE = 3


class CliExit(Exception):
    """Ends the command: ``message`` is printed as ``wl-adapter: <message>`` and ``code`` is the exit status."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def open_store(url: str):
    """The store at ``url``, migrated to the newest schema, or ``CliExit`` (3) naming what is wrong with it."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.store import Store

    try:
        store = Store(url)
        store.migrate()
    except (ValueError, SQLAlchemyError, RuntimeError) as exc:
        raise CliExit(EXIT_STORE, f"store: {getattr(exc, 'orig', None) or exc}") from None
    return store
