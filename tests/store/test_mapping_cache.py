"""Resolved codes are cached per Store and stay coherent: two Store objects on one database (as two workers or two
instances have), on SQLite and PostgreSQL. A Store sees its own mapping changes at once and another's within
``mapping_check_s`` of the commit; every change of code_mapping raises the mapping generation, nothing else does."""
from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import event

from adapter.config import load_config
from adapter.errors import ConfigError
from adapter.store import Mutation, Store
from adapter.store import mappings as mapping_table
from adapter.store.engine import read_transaction
from adapter.store.store import DEFAULT_MAPPING_CHECK_S
from tests.support.servers import wl_adapter
from tests.support.store import SCHOOL, guid

MARGIN_S = 0.5  # scheduling on a busy test machine, on top of the bound the cache promises


@pytest.fixture
def stores(store_url):
    """Factory: ``stores(mapping_check_s=...)`` opens another Store on the test's database (the first migrates)."""
    opened: list[Store] = []

    def open_store(**options) -> Store:
        s = Store(store_url, **options)
        if not opened:
            s.migrate()
        opened.append(s)
        return s
    yield open_store
    for s in opened:
        s.close()


def generation(s: Store) -> int:
    with read_transaction(s.engine) as c:
        return mapping_table.generation(c)


def statements(s: Store) -> list[str]:
    """Every SQL statement ``s`` sends from now on."""
    sent: list[str] = []
    event.listen(s.engine, "before_cursor_execute", lambda _c, _cur, statement, *_: sent.append(statement))
    return sent


def id_change(old: str, new: str) -> Mutation:
    return Mutation(guid(), "LEERBEDRIJFID_GEWIJZIGD", new, date(2026, 3, 1), oud_leerbedrijf_id=old)


def test_a_cached_answer_costs_no_statement_and_not_mapped_is_cached_too(stores):
    s = stores(mapping_check_s=60)
    s.add_mapping("OLD-1", "100")
    assert (s.resolve_code("OLD-1"), s.resolve_code("NOPE")) == ("100", None)
    sent = statements(s)
    assert [s.resolve_code(code) for code in ("OLD-1", "NOPE") * 50] == ["100", None] * 50
    assert sent == []


def test_with_check_0_another_stores_change_is_seen_at_once(stores):
    writer = stores(mapping_check_s=60)
    reader = stores(mapping_check_s=0)
    assert reader.resolve_code("OLD-1") is None
    writer.add_mapping("OLD-1", "100")
    assert reader.resolve_code("OLD-1") == "100"
    writer.add_mapping("OLD-1", "101")
    assert reader.resolve_code("OLD-1") == "101"
    writer.follow_id_change("101", "200")
    assert (reader.resolve_code("OLD-1"), reader.resolve_code("101")) == ("200", "200")
    writer.import_mappings([(1, "OLD-1", "300")])
    assert reader.resolve_code("OLD-1") == "300"
    writer.store_mutation(SCHOOL, id_change("300", "400"))  # SBB's push, stored by another worker
    assert (reader.resolve_code("OLD-1"), reader.resolve_code("300")) == ("400", "400")


def test_own_changes_are_seen_at_once_while_another_store_still_trusts_its_cache(stores):
    s = stores(mapping_check_s=60)
    other = stores(mapping_check_s=60)
    for store in (s, other):
        assert store.resolve_code("OLD-1") is None  # both now hold "not mapped" for a minute
    s.add_mapping("OLD-1", "100")
    assert s.resolve_code("OLD-1") == "100"
    assert other.resolve_code("OLD-1") is None, "another Store's cache: only its next check sees the change"
    s.import_mappings([(1, "OLD-1", "101"), (2, "OLD-2", "102")])
    assert (s.resolve_code("OLD-1"), s.resolve_code("OLD-2")) == ("101", "102")
    s.follow_id_change("101", "201")
    assert (s.resolve_code("OLD-1"), s.resolve_code("101")) == ("201", "201")
    s.store_mutation(SCHOOL, id_change("201", "301"))
    assert (s.resolve_code("OLD-1"), s.resolve_code("201")) == ("301", "301")


def test_with_the_default_another_stores_change_is_seen_within_mapping_check_s(stores):
    """The bounded window: the other Store's old answer is served until ``mapping_check_s`` after the read that
    last confirmed it, then the change is seen."""
    check_s = DEFAULT_MAPPING_CHECK_S
    writer = stores(mapping_check_s=0)
    reader = stores()
    read_at = time.monotonic()
    assert reader.resolve_code("OLD-1") is None
    writer.add_mapping("OLD-1", "100")
    committed = time.monotonic()
    stale = 0
    while reader.resolve_code("OLD-1") is None:
        stale += 1
        assert time.monotonic() < max(read_at + check_s, committed) + MARGIN_S, "the change is not seen in time"
        time.sleep(0.01)
    seen = time.monotonic()
    assert stale or committed >= read_at + check_s, "the old answer was served while the window lasted"
    assert seen >= read_at + check_s, "the window did not last mapping_check_s"


@pytest.mark.parametrize("own", [False, True], ids=["other-store", "own-store"])
def test_racing_threads_never_serve_an_answer_older_than_the_bound(stores, own):
    """Eight threads of one worker resolve the same code while the mapping changes eleven times, through another
    Store (each change must show within check_s) or through the worker's own (it must show at once)."""
    check_s = 0.2
    worker = stores(mapping_check_s=check_s)
    writer = worker if own else stores(mapping_check_s=0)
    bound = 0.0 if own else check_s
    writer.add_mapping("HOT", "1")
    commits: list[tuple[float, int]] = []  # (committed by, value)
    seen: list[tuple[float, int]] = []  # (lookup begun at, answer)
    stop = threading.Event()

    def resolve():
        while not stop.is_set():
            begun = time.monotonic()
            seen.append((begun, int(worker.resolve_code("HOT"))))
            time.sleep(0.002)
    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        for value in range(2, 13):
            time.sleep(0.06)
            writer.add_mapping("HOT", str(value))
            commits.append((time.monotonic(), value))
        time.sleep(check_s + 0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert len(seen) > 100
    for begun, answer in seen:
        due = max((value for at, value in commits if at + bound < begun), default=1)
        assert answer >= due, f"a lookup begun {begun - commits[0][0]:.3f} s in answered {answer}, due {due}"
    assert seen[-1][1] == 12


def test_every_change_of_the_mapping_raises_the_generation_and_nothing_else_does(stores, store_url, tmp_path):
    s = stores(mapping_check_s=60)
    reader = stores(mapping_check_s=0)
    start = generation(s)
    steps = [
        (lambda: s.add_mapping("A", "100"), 1),
        (lambda: s.add_mapping("A", "100"), 0),  # already so: no change
        (lambda: s.import_mappings([(1, "A", "100"), (2, "B", "200")]), 1),
        (lambda: s.import_mappings([(1, "A", "100"), (2, "B", "200")]), 0),
        (lambda: s.follow_id_change("100", "300"), 1),
        (lambda: s.follow_id_change("300", "300"), 0),
        (lambda: s.store_mutation(SCHOOL, Mutation(guid(), "ERKENNING_INGETROKKEN", "300", date(2026, 3, 1))), 0),
        (lambda: s.store_mutation(SCHOOL, id_change("300", "400")), 1),
    ]
    expected = start
    for n, (step, raised) in enumerate(steps):
        step()
        expected += raised
        assert generation(s) == expected, f"step {n}"
    # `wl-adapter mapping import` in a process of its own
    assert reader.resolve_code("C") is None
    csv = tmp_path / "codes.csv"
    csv.write_text("code_leerbedrijf,leerbedrijf_id\nC,500\n")
    run = wl_adapter("mapping", "import", str(csv), "--store-url", store_url)
    assert run.returncode == 0, run.stderr
    assert generation(s) == expected + 1
    assert reader.resolve_code("C") == "500"


def test_mapping_check_s_in_the_configuration(tmp_path):
    def load(store_lines: str):
        path = tmp_path / "adapter.toml"
        path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n{store_lines}')
        return load_config(path, environ={})
    assert load("").store.mapping_check_s == DEFAULT_MAPPING_CHECK_S == 1.0
    assert load("mapping_check_s = 0\n").store.mapping_check_s == 0.0
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(ConfigError, match=r"store\.mapping_check_s: must be a number >= 0"):
            load(f"mapping_check_s = {bad}\n")
    with pytest.raises(ConfigError, match=r"store\.mapping_cache_s: unknown key .*mapping_check_s"):
        load("mapping_cache_s = 5\n")  # the old time-to-live cache: gone, its key named as unknown
