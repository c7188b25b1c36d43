"""``Store``: the adapter's durable store over SQLite or PostgreSQL. Each public method is one transaction."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from adapter.errors import StoreUnavailable
from adapter.store import mappings, migrations, mutations, overview, subscriptions, voordrachten
from adapter.store.codecache import MISSING, CodeCache
from adapter.store.engine import make_engine, read_transaction, write_transaction
from adapter.store.fields import LEERBEDRIJF_ID, code_problem, leerbedrijf_id_problem
from adapter.store.model import (
    ImportResult,
    Intent,
    Mutation,
    StoredMutation,
    StoredMutationRow,
    Subscription,
    Undelivered,
)
from adapter.store.sync import SyncPlan
from adapter.translate.tables import ID_CHANGE

DEFAULT_RETENTION = timedelta(days=30)
DEFAULT_MAPPING_CHECK_S = 1.0  # as [store] mapping_check_s (adapter/config.py)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Store:
    """Construct from a URL: ``sqlite:///PATH`` (one host) or ``postgresql+psycopg://...`` (several processes).
    ``clock`` returns the current time (timezone-aware); call ``migrate()`` once at start.

    Resolved codes are cached (store/codecache.py): a change of the mapping made through this Store is seen at once,
    one made by another process (an import, an ID change pushed to another worker or instance) at the latest
    ``mapping_check_s`` seconds after its commit; 0 reads the store on every lookup."""

    def __init__(self, url: str, clock: Callable[[], datetime] = utc_now,
                 mapping_check_s: float = DEFAULT_MAPPING_CHECK_S):
        self.engine = make_engine(url)
        self.clock = clock
        self._codes = CodeCache(mapping_check_s)

    # -- life cycle -------------------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Bring the schema to the newest version; returns the versions applied. Idempotent, safe concurrently."""
        return migrations.migrate(self.engine, self.clock())

    def ping(self) -> None:
        """Readiness: raises StoreUnavailable unless the database answers and its schema is current."""
        try:
            with read_transaction(self.engine) as c:
                c.execute(text("SELECT 1"))
                version = migrations.current_version(c)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreUnavailable(f"store unreachable: {type(cause).__name__}: {cause}") from None
        if version != migrations.LATEST_VERSION:
            raise StoreUnavailable(f"store schema is version {version}, expected {migrations.LATEST_VERSION}")

    def prepare(self) -> None:
        """Run once, before workers fork, the reads a WL 1.0 call makes, so that SQLAlchemy has compiled them (its
        cache is the engine's, and each worker inherits it): else each worker's first call of an operation compiles
        them (2-8 ms, measured: bench/first_calls.py). Likewise the insert of a subscription intent, which the
        worker's subscriber thread makes after its first VerifieerAccreditatie (holding the GIL meanwhile). All for
        a school that cannot exist (an empty OIN), and the insert is rolled back: nothing changes."""
        with read_transaction(self.engine) as c:
            mappings.resolve_with_generation(c, "")
            mutations.mutations_after(c, "", 0, 1)
            mutations.undelivered_up_to(c, "", 0)
        with self.engine.connect() as c, c.begin() as transaction:
            subscriptions.record_intent(c, "", "", None, self.clock())
            transaction.rollback()

    def close(self) -> None:
        self.engine.dispose()

    # -- code mapping ---------------------------------------------------------------------------------------
    def resolve_code(self, code: str) -> str | None:
        """The code's LeerbedrijfId from the mapping table, or None."""
        found = self._codes.get(code)
        if found is MISSING:
            read_at = self._codes.clock()  # before the query: see codecache.py
            with read_transaction(self.engine) as c:
                generation, found = mappings.resolve_with_generation(c, code)
            self._codes.put(code, found, generation, read_at)
        return found

    @contextmanager
    def _changing_mapping(self) -> Iterator[Connection]:
        """A write transaction that may change the mapping: the cache learns the generation it committed."""
        with write_transaction(self.engine) as c:
            yield c
            generation = mappings.generation(c)
        self._codes.changed(generation)

    def add_mapping(self, code: str, leerbedrijf_id: str) -> None:
        """Map (or re-map) one code, e.g. an old-style code that WL 2.0 identified."""
        for problem in (code_problem(code), leerbedrijf_id_problem(leerbedrijf_id)):
            if problem:
                raise ValueError(problem)
        with self._changing_mapping() as c:
            mappings.load(c, {code: leerbedrijf_id}, self.clock())

    def import_mappings(self, rows: Iterable[Sequence]) -> ImportResult:
        """Rows of (line_no, code, leerbedrijf_id), all or nothing; MappingImportError lists every bad line."""
        wanted = mappings.parse_rows(rows)
        with self._changing_mapping() as c:
            return mappings.load(c, wanted, self.clock())

    def follow_id_change(self, old_id: str, new_id: str) -> None:
        with self._changing_mapping() as c:
            mappings.follow_id_change(c, old_id, new_id, self.clock())

    def resolve_locally(self, code: str) -> str | None:
        """The mapping table, else the code itself when it is already a LeerbedrijfId (no WL 2.0 lookup)."""
        return self.resolve_code(code) or (code if LEERBEDRIJF_ID.match(code) else None)

    # -- subscriptions --------------------------------------------------------------------------------------
    def record_subscription_intent(self, tenant_oin: str, leerbedrijf_id: str, crebo: str | int | None) -> bool:
        """Durably note that the school wants this subscription; False when it has it or the wish already."""
        with write_transaction(self.engine) as c:
            return subscriptions.record_intent(c, tenant_oin, leerbedrijf_id, crebo, self.clock())

    def claim_subscription_intents(self, limit: int, lease_s: float) -> list[Intent]:
        with write_transaction(self.engine) as c:
            return subscriptions.claim_intents(c, limit, timedelta(seconds=lease_s), self.clock())

    def complete_subscription_intent(self, intent_id: int, abonnement_id: str) -> bool:
        with write_transaction(self.engine) as c:
            return subscriptions.complete_intent(c, intent_id, abonnement_id, self.clock())

    def fail_subscription_intent(self, intent_id: int, error: str, retry_at: datetime) -> bool:
        with write_transaction(self.engine) as c:
            return subscriptions.fail_intent(c, intent_id, error, retry_at)

    def list_subscriptions(self, tenant_oin: str | None = None) -> list[Subscription]:
        with read_transaction(self.engine) as c:
            return subscriptions.list_subscriptions(c, tenant_oin)

    def list_subscription_intents(self, tenant_oin: str | None = None) -> list[Intent]:
        with read_transaction(self.engine) as c:
            return subscriptions.list_intents(c, tenant_oin)

    def upsert_subscription(self, tenant_oin: str, leerbedrijf_id: str, crebo: str | int | None,
                            abonnement_id: str, since: datetime) -> None:
        with write_transaction(self.engine) as c:
            subscriptions.upsert(c, tenant_oin, leerbedrijf_id, crebo, abonnement_id, since)

    def remove_subscription(self, abonnement_id: str) -> bool:
        with write_transaction(self.engine) as c:
            return subscriptions.remove(c, abonnement_id)

    def import_subscription_intents(self, rows: Iterable[Sequence],
                                    resolve: Callable[[str], str | None] | None = None) -> ImportResult:
        """Rows of (line_no, tenant_oin, code_or_id, crebo), all or nothing; ``resolve`` maps a code to an id
        (default: ``resolve_locally``). added = new intents, unchanged = already subscribed or pending."""
        wanted = subscriptions.parse_intent_rows(rows, resolve or self.resolve_locally)
        now = self.clock()
        with write_transaction(self.engine) as c:
            added = sum(subscriptions.record_intent(c, *key, now) for key in wanted)
        return ImportResult(added=added, updated=0, unchanged=len(wanted) - added)

    def apply_subscription_sync(self, tenant_oin: str, plan: SyncPlan) -> None:
        """The store's part of a sync plan: adopt upstream ones, turn vanished ones back into intents."""
        now = self.clock()
        with write_transaction(self.engine) as c:
            for u in plan.adopt:
                subscriptions.upsert(c, tenant_oin, u.leerbedrijf_id, u.crebo, u.abonnement_id, u.since)
            for s in plan.create:
                subscriptions.remove(c, s.abonnement_id)
                subscriptions.record_intent(c, tenant_oin, s.leerbedrijf_id, s.crebo, now)

    # -- mutations ------------------------------------------------------------------------------------------
    def store_mutation(self, tenant_oin: str, m: Mutation) -> StoredMutation:
        """Store a push for the school, committed before this returns; a repeated mutatie_id stores nothing."""
        with read_transaction(self.engine) as c:
            existing = mutations.find_volgnummer(c, tenant_oin, m.mutatie_id)
        if existing is not None:
            return StoredMutation(existing, created=False)
        if m.soort == ID_CHANGE:  # the mapping follows the new id in the same transaction
            with self._changing_mapping() as c:
                return mutations.store_mutation(c, tenant_oin, m, self.clock())
        with write_transaction(self.engine) as c:
            return mutations.store_mutation(c, tenant_oin, m, self.clock())

    def mutations_after(self, tenant_oin: str, vanaf: int, limit: int) -> list[StoredMutationRow]:
        """The school's mutations after ``vanaf``; those up to it are marked delivered. Asking again from the same
        number (the usual poll: nothing new) is a read only: the write lock is taken only when there is a mark
        to make."""
        with read_transaction(self.engine) as c:
            rows = mutations.mutations_after(c, tenant_oin, vanaf, limit)
            to_mark = mutations.undelivered_up_to(c, tenant_oin, vanaf)
        if to_mark:
            with write_transaction(self.engine) as c:
                mutations.mark_delivered(c, tenant_oin, vanaf, self.clock())
        return rows

    # -- read-only overviews (the console) --------------------------------------------------------------------
    def recent_mutations(self, limit: int = 100, tenant_oin: str | None = None):
        """[(tenant_oin, StoredMutationRow)], newest received first."""
        with read_transaction(self.engine) as c:
            return overview.recent_mutations(c, limit, tenant_oin)

    def school_counts(self) -> dict:
        """{tenant_oin: SchoolCounts}: subscriptions, pending intents, waiting and delivered mutations."""
        with read_transaction(self.engine) as c:
            return overview.school_counts(c)

    def purge_delivered(self, retention: timedelta = DEFAULT_RETENTION) -> int:
        """Delete mutations delivered more than ``retention`` ago; undelivered ones are kept."""
        with write_transaction(self.engine) as c:
            return mutations.purge_delivered(c, self.clock() - retention)

    def list_mutations(self, tenant_oin: str, undelivered_only: bool = False,
                       received_after: datetime | None = None) -> list[StoredMutationRow]:
        """The school's stored mutations, oldest first; reading them does not count as delivering them."""
        with read_transaction(self.engine) as c:
            return mutations.list_mutations(c, tenant_oin, undelivered_only, received_after)

    def undelivered(self) -> list[Undelivered]:
        """Per school: mutations its system has not fetched yet, and when the oldest of them came in."""
        with read_transaction(self.engine) as c:
            return mutations.undelivered(c)

    # -- digest mails ---------------------------------------------------------------------------------------
    def last_digest(self, tenant_oin: str) -> datetime | None:
        with read_transaction(self.engine) as c:
            return mutations.last_digest(c, tenant_oin)

    def send_digest_once(self, tenant_oin: str, day, count: int, send: Callable[[], None]) -> bool:
        """Run ``send()`` unless the school's digest for ``day`` was sent already; the record is committed only
        when ``send`` returned, so a failed mail is tried again on the next run. False: already sent."""
        with write_transaction(self.engine) as c:
            if not mutations.record_digest(c, tenant_oin, day, self.clock(), count):
                return False
            send()
        return True

    # -- recognition proposals ------------------------------------------------------------------------------
    def claim_voordracht(self, tenant_oin: str, key: str, lease: timedelta) -> voordrachten.Claim:
        """The first VoordrachtId of this proposal in the last 24 hours; else the right to send it (``mine``),
        unless an identical one is being sent right now (a claim younger than ``lease``)."""
        with write_transaction(self.engine) as c:
            return voordrachten.claim(c, tenant_oin, key, self.clock(), lease)

    def complete_voordracht(self, tenant_oin: str, key: str, voordracht_id: str) -> None:
        with write_transaction(self.engine) as c:
            voordrachten.complete(c, tenant_oin, key, voordracht_id)

    def release_voordracht(self, tenant_oin: str, key: str) -> None:
        with write_transaction(self.engine) as c:
            voordrachten.release(c, tenant_oin, key)

    def purge_voordrachten(self) -> int:
        """Forget proposals older than 24 hours: a repeat after that is a new proposal."""
        with write_transaction(self.engine) as c:
            return voordrachten.purge(c, self.clock() - voordrachten.WINDOW)
