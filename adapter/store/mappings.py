"""The code mapping: legacy CodeLeerbedrijf → LeerbedrijfId, imported from CSV, learned, and moved along when SBB
changes an ID. Functions here work inside a transaction the caller owns.

Every function that changes code_mapping raises the mapping generation in the same transaction (``_bump``): the
caches of resolved codes in every process compare it with the one they read their answers under."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from adapter.errors import MappingImportError
from adapter.store.engine import insert_for
from adapter.store.fields import code_problem, leerbedrijf_id_problem
from adapter.store.model import ImportResult, LineProblem
from adapter.store.schema import code_mapping, mapping_generation, subscription, subscription_intent

MAPPING_COLUMNS = ("code_leerbedrijf", "leerbedrijf_id")
_CHUNK = 500  # keys per IN (...) list


def resolve(connection: Connection, code: str) -> str | None:
    return connection.execute(
        select(code_mapping.c.leerbedrijf_id).where(code_mapping.c.code == code)).scalar_one_or_none()


# One statement, so one snapshot on both databases (PostgreSQL's READ COMMITTED takes one per statement): the answer
# is never newer or older than the generation it is tagged with.
_RESOLVE_WITH_GENERATION = select(
    mapping_generation.c.generation,
    select(code_mapping.c.leerbedrijf_id).where(code_mapping.c.code == bindparam("code")).scalar_subquery())


def resolve_with_generation(connection: Connection, code: str) -> tuple[int, str | None]:
    """(the mapping generation, the code's LeerbedrijfId or None), read together."""
    row = connection.execute(_RESOLVE_WITH_GENERATION, {"code": code}).one()
    return int(row[0]), row[1]


def generation(connection: Connection) -> int:
    return connection.execute(select(mapping_generation.c.generation)).scalar_one()


def _bump(connection: Connection) -> None:
    """Called by every change of code_mapping, in its transaction, as its last write: on PostgreSQL the row lock
    queues concurrent mapping writers until commit (harmless: imports, ID changes and newly learned old-style codes
    are rare), and a transaction that holds it waits for no other lock, so it cannot be part of a deadlock."""
    connection.execute(update(mapping_generation).values(generation=mapping_generation.c.generation + 1))


def _lookup(connection: Connection, codes: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i in range(0, len(codes), _CHUNK):
        chunk = codes[i:i + _CHUNK]
        found.update(connection.execute(
            select(code_mapping.c.code, code_mapping.c.leerbedrijf_id).where(code_mapping.c.code.in_(chunk))).all())
    return found


def _newest(connection: Connection, wanted: dict[str, str]) -> dict[str, str]:
    """``wanted`` with every id that SBB has since replaced (an old id is mapped as a code) swapped for the newest."""
    replaced = _lookup(connection, sorted(set(wanted.values())))
    return {code: replaced.get(lb_id, lb_id) for code, lb_id in wanted.items()}


def parse_rows(rows: Iterable[Sequence]) -> dict[str, str]:
    """Rows of (line_no, code, id) → {code: id}; a MappingImportError lists every bad line."""
    problems: list[LineProblem] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for line_no, *fields in rows:
        if len(fields) != len(MAPPING_COLUMNS):
            problems.append(LineProblem(line_no, f"expected {len(MAPPING_COLUMNS)} columns "
                                                 f"({', '.join(MAPPING_COLUMNS)}), got {len(fields)}"))
            continue
        code, lb_id = (str(f).strip() for f in fields)
        reasons = [r for r in (code_problem(code), leerbedrijf_id_problem(lb_id)) if r]
        if not reasons and code in first_seen and first_seen[code][0] != lb_id:
            seen_id, seen_line = first_seen[code]
            reasons.append(f"code_leerbedrijf {code!r} is mapped to {seen_id} on line {seen_line} "
                           f"and to {lb_id} here")
        if reasons:
            problems.append(LineProblem(line_no, "; ".join(reasons)))
        else:
            first_seen.setdefault(code, (lb_id, line_no))
    if problems:
        raise MappingImportError(problems)
    return {code: lb_id for code, (lb_id, _) in first_seen.items()}


def load(connection: Connection, wanted: dict[str, str], now: datetime) -> ImportResult:
    """Upsert every pair of ``wanted``; counts what changed."""
    wanted = _newest(connection, wanted)
    existing = _lookup(connection, sorted(wanted))
    added = [{"code": c, "leerbedrijf_id": i, "updated_at": now} for c, i in wanted.items() if c not in existing]
    changed = [{"b_code": c, "leerbedrijf_id": i, "updated_at": now}
               for c, i in wanted.items() if c in existing and existing[c] != i]
    if added:
        connection.execute(code_mapping.insert(), added)
    if changed:
        connection.execute(update(code_mapping).where(code_mapping.c.code == bindparam("b_code")), changed)
    if added or changed:
        _bump(connection)
    return ImportResult(added=len(added), updated=len(changed), unchanged=len(wanted) - len(added) - len(changed))


def _upsert(connection: Connection, code: str, leerbedrijf_id: str, now: datetime) -> None:
    """Only inside follow_id_change, which bumps the generation once for all its changes."""
    stmt = insert_for(connection)(code_mapping).values(code=code, leerbedrijf_id=leerbedrijf_id, updated_at=now)
    connection.execute(stmt.on_conflict_do_update(
        index_elements=[code_mapping.c.code],
        set_={"leerbedrijf_id": stmt.excluded.leerbedrijf_id, "updated_at": stmt.excluded.updated_at}))


def follow_id_change(connection: Connection, old_id: str, new_id: str, now: datetime) -> None:
    """SBB replaced ``old_id`` by ``new_id``: old codes, the old id itself and the school's subscriptions follow."""
    for problem in (leerbedrijf_id_problem(old_id), leerbedrijf_id_problem(new_id)):
        if problem:
            raise ValueError(problem)
    newest = resolve(connection, new_id)
    if newest and newest != old_id:  # a late copy of an older change (A->B after B->C): A follows to C
        new_id = newest
    if old_id == new_id:
        return
    connection.execute(update(code_mapping).where(code_mapping.c.leerbedrijf_id == old_id)
                       .values(leerbedrijf_id=new_id, updated_at=now))
    _upsert(connection, old_id, new_id, now)
    for table in (subscription, subscription_intent):
        _move_keyed_rows(connection, table, old_id, new_id)
    _bump(connection)


def _move_keyed_rows(connection: Connection, table, old_id: str, new_id: str) -> None:
    """Re-key (tenant, old_id, crebo) rows to new_id; a row whose new key is already taken is a duplicate: dropped."""
    taken = table.alias("taken")
    duplicate = (select(taken.c.tenant_oin).where(
        taken.c.tenant_oin == table.c.tenant_oin, taken.c.crebo == table.c.crebo,
        taken.c.leerbedrijf_id == new_id).exists())
    connection.execute(table.delete().where(table.c.leerbedrijf_id == old_id, duplicate))
    connection.execute(update(table).where(table.c.leerbedrijf_id == old_id).values(leerbedrijf_id=new_id))
