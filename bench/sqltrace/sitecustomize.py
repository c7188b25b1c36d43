"""Counts SQLite write transactions in the adapter's processes, for goal D of bench/compare.py.

Why it exists: "does a VerifieerAccreditatie write?" needs a count that is honest about what SQLite does, not a
guess from file sizes (a ``BEGIN IMMEDIATE`` whose insert finds the row already there changes no page, yet takes the
database's write lock and serialises every worker on it). bench/compare.py starts the adapter with this directory on
PYTHONPATH and ``WL_BENCH_SQL_TRACE=FILE``; Python then imports this module at start-up, and every SQLite connection
gets a trace callback (``sqlite3.Connection.set_trace_callback``) that notes, per transaction, whether it took the
write lock (``BEGIN IMMEDIATE``/``EXCLUSIVE``) or ran an INSERT/UPDATE/DELETE, and how many rows it changed. When such
a transaction ends, one line goes to FILE (O_APPEND, so the workers' lines do not mix):
``pid<TAB>thread name<TAB>COMMIT|ROLLBACK|AUTOCOMMIT<TAB>rows changed<TAB>first write statement``, and one
``pid<TAB>thread name<TAB>CONNECT<TAB>0<TAB>`` per new connection (a pool that overflows opens them per call). Read-only
transactions write nothing; the callback costs about 1 µs per statement (a few per call, against milliseconds).
Without WL_BENCH_SQL_TRACE this module does nothing.
"""
import os

_PATH = os.environ.get("WL_BENCH_SQL_TRACE")

if _PATH:
    import sqlite3
    import sqlite3.dbapi2
    import threading

    _connect = sqlite3.dbapi2.connect
    _WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
    _LOCKING = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")

    _fds: dict = {}  # one descriptor per process (the adapter forks its workers after connecting once)

    def _fd():
        pid = os.getpid()
        if pid not in _fds:
            _fds[pid] = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return _fds[pid]

    def _traced(conn):
        state: dict = {"begun": False, "locking": False, "first": None, "changes": 0}
        fd = _fd()
        # connections opened per call (a pool that overflows) are worth knowing: one line each, not a write
        os.write(fd, f"{os.getpid()}\t{threading.current_thread().name}\tCONNECT\t0\t\n".encode())

        def end(kind):
            if state["locking"] or state["first"]:
                # the callback runs as a statement starts: at COMMIT every change of the transaction is counted
                changed = conn.total_changes - state["changes"] if kind != "AUTOCOMMIT" else -1
                first = (state["first"] or "").replace("\t", " ").replace("\n", " ")[:100]
                os.write(fd, f"{os.getpid()}\t{threading.current_thread().name}\t{kind}\t{changed}\t{first}\n"
                         .encode())
            state.update(begun=False, locking=False, first=None)

        def trace(statement):
            head = statement.lstrip()[:16].upper()
            if head.startswith("BEGIN"):
                state.update(begun=True, locking=head.startswith(_LOCKING), first=None,
                             changes=conn.total_changes)
            elif head.startswith(("COMMIT", "END")):
                end("COMMIT")
            elif head.startswith("ROLLBACK"):
                end("ROLLBACK")
            elif head.startswith(_WRITES):
                if state["first"] is None:
                    state["first"] = statement
                if not state["begun"]:  # autocommit: the statement is its own transaction (rows unknown: -1)
                    end("AUTOCOMMIT")

        conn.set_trace_callback(trace)
        return conn

    def connect(*args, **kwargs):
        return _traced(_connect(*args, **kwargs))

    sqlite3.dbapi2.connect = connect
    sqlite3.connect = connect
