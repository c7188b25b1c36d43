"""Subscriptions and the intents to subscribe: dedupe on the request path, claims with leases, completion,
failure and retry, imports from CSV, following ID changes, and the sync plan."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from adapter.errors import SubscriptionImportError
from adapter.store import Store, Subscription, UpstreamSubscription, plan_subscription_sync
from tests.support.servers import ROOT, wl_adapter
from tests.support.store import OTHER_SCHOOL, SCHOOL, guid


def test_an_intent_is_recorded_once_and_not_for_an_existing_subscription(store):
    assert store.record_subscription_intent(SCHOOL, "100", 25180) is True
    assert store.record_subscription_intent(SCHOOL, "100", "25180") is False  # same crebo, other spelling
    assert store.record_subscription_intent(OTHER_SCHOOL, "100", 25180) is True  # another school
    assert store.record_subscription_intent(SCHOOL, "100", 1234) is True  # another crebo
    store.upsert_subscription(SCHOOL, "200", "25180", guid(1), store.clock())
    assert store.record_subscription_intent(SCHOOL, "200", 25180) is False
    assert [(i.tenant_oin, i.leerbedrijf_id, i.crebo) for i in store.list_subscription_intents(SCHOOL)] == [
        (SCHOOL, "100", "01234"), (SCHOOL, "100", "25180")]


def test_claim_lease_complete(store, clock):
    store.record_subscription_intent(SCHOOL, "100", 25180)
    store.record_subscription_intent(SCHOOL, "101", 25180)
    first = store.claim_subscription_intents(limit=1, lease_s=30)
    assert [(i.leerbedrijf_id, i.attempts) for i in first] == [("100", 1)]
    second = store.claim_subscription_intents(limit=10, lease_s=30)
    assert [i.leerbedrijf_id for i in second] == ["101"]  # the leased one is not handed out again
    assert store.claim_subscription_intents(limit=10, lease_s=30) == []

    clock.advance(seconds=31)  # the worker holding "100" died: its lease runs out
    again = store.claim_subscription_intents(limit=10, lease_s=30)
    assert [(i.id, i.attempts) for i in again] == [(first[0].id, 2), (second[0].id, 2)]

    abonnement = guid(7).upper()
    assert store.complete_subscription_intent(first[0].id, abonnement) is True
    assert store.complete_subscription_intent(first[0].id, abonnement) is False  # a late second worker
    [sub] = store.list_subscriptions()
    assert (sub.tenant_oin, sub.leerbedrijf_id, sub.crebo, sub.abonnement_id) == (SCHOOL, "100", "25180", guid(7))
    assert [i.leerbedrijf_id for i in store.list_subscription_intents()] == ["101"]
    assert store.record_subscription_intent(SCHOOL, "100", 25180) is False


def test_failed_intent_is_retried_at_its_time(store, clock):
    store.record_subscription_intent(SCHOOL, "100", None)
    [intent] = store.claim_subscription_intents(limit=5, lease_s=60)
    assert intent.crebo is None
    retry_at = clock().replace(hour=13)
    assert store.fail_subscription_intent(intent.id, "WL 2.0 unreachable", retry_at) is True
    assert store.claim_subscription_intents(limit=5, lease_s=60) == []
    clock.now = retry_at
    [retry] = store.claim_subscription_intents(limit=5, lease_s=60)
    assert (retry.id, retry.attempts, retry.last_error) == (intent.id, 2, "WL 2.0 unreachable")


_CLAIM = """
import sys, time
from adapter.store import Store
s = Store(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
got = []
while True:
    batch = s.claim_subscription_intents(limit=3, lease_s=600)
    if not batch:
        break
    got += [i.id for i in batch]
print(" ".join(map(str, got)))
"""


def test_processes_claiming_at_once_never_share_an_intent(store, store_url):
    for n in range(60):
        store.record_subscription_intent(SCHOOL, str(1000 + n), 25180)
    start = str(time.time() + 1.5)
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIM, store_url, start], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    claimed = [int(x) for out, _ in outputs for x in out.split()]
    assert sorted(claimed) == sorted(i.id for i in store.list_subscription_intents())


def test_upsert_and_remove_subscription(store, clock):
    store.record_subscription_intent(SCHOOL, "100", 25180)
    store.upsert_subscription(SCHOOL, "100", 25180, guid(1), clock())
    assert store.list_subscription_intents() == []  # the wish is fulfilled
    store.upsert_subscription(SCHOOL, "100", 25180, guid(2), clock())  # SBB gave it another id
    assert [s.abonnement_id for s in store.list_subscriptions()] == [guid(2)]
    assert store.remove_subscription(guid(1)) is False
    assert store.remove_subscription(guid(2).upper()) is True
    assert store.list_subscriptions() == []


def test_follow_id_change_moves_subscriptions_and_intents(store, clock):
    store.upsert_subscription(SCHOOL, "100", 25180, guid(1), clock())
    store.upsert_subscription(SCHOOL, "100", 11111, guid(2), clock())
    store.upsert_subscription(SCHOOL, "200", 11111, guid(3), clock())  # already there under the new id
    store.record_subscription_intent(OTHER_SCHOOL, "100", 25180)
    store.follow_id_change("100", "200")
    assert sorted((s.leerbedrijf_id, s.crebo, s.abonnement_id) for s in store.list_subscriptions()) == [
        ("200", "11111", guid(3)), ("200", "25180", guid(1))]
    assert [(i.tenant_oin, i.leerbedrijf_id) for i in store.list_subscription_intents()] == [(OTHER_SCHOOL, "200")]


def test_import_subscription_intents_all_or_nothing(store):
    store.add_mapping("OLDCODE", "777")
    with pytest.raises(SubscriptionImportError) as err:
        store.import_subscription_intents([
            (2, SCHOOL, "OLDCODE", "25180"),
            (3, "123", "100", "25180"),
            (4, SCHOOL, "NOT-MAPPED", "25180"),
            (5, SCHOOL, "100", "00000"),
            (6, SCHOOL, "100"),
        ])
    assert [p.line for p in err.value.problems] == [3, 4, 5, 6]
    assert store.list_subscription_intents() == []
    result = store.import_subscription_intents([(2, SCHOOL, "OLDCODE", "25180"), (3, SCHOOL, "100", "1234"),
                                                (4, SCHOOL, "OLDCODE", "25180")])
    assert (result.added, result.unchanged) == (2, 1)
    assert [(i.leerbedrijf_id, i.crebo) for i in store.list_subscription_intents()] == [
        ("100", "01234"), ("777", "25180")]
    custom = store.import_subscription_intents([(1, SCHOOL, "ANY", "25180")], resolve=lambda code: "888")
    assert custom.added == 1


def test_cli_subscriptions_import_and_list(tmp_path, store_url):
    csv = tmp_path / "subs.csv"
    csv.write_text(f"tenant_oin;code_leerbedrijf;crebonummer\n{SCHOOL};100;25180\n{OTHER_SCHOOL};200;1234\n")
    run = wl_adapter("subscriptions", "import", str(csv), "--store-url", store_url)
    assert (run.returncode, run.stdout.strip()) == (0, "added 2, updated 0, unchanged 0"), run.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{SCHOOL},100,25180\n{SCHOOL},ABC,25180\n")
    run = wl_adapter("subscriptions", "import", str(bad), "--store-url", store_url)
    assert run.returncode == 1 and run.stdout.startswith(f"{bad}:2: code_leerbedrijf 'ABC' does not resolve")

    s = Store(store_url)
    s.upsert_subscription(SCHOOL, "300", None, guid(5), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    s.close()
    listing = wl_adapter("subscriptions", "list", "--tenant", SCHOOL, "--store-url", store_url)
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()]
    assert rows[0] == ["tenant_oin", "leerbedrijf_id", "crebo", "status", "abonnement_id", "since"]
    assert rows[1] == [SCHOOL, "300", "(all)", "active", guid(5), "2026-01-02T03:04:05+00:00"]
    assert rows[2][:4] == [SCHOOL, "100", "25180", "pending,"]
    assert len(rows) == 3  # the other school is not listed


def _sub(lb, crebo, n) -> Subscription:
    return Subscription(SCHOOL, lb, crebo, guid(n), datetime(2026, 1, 1, tzinfo=timezone.utc))


def _up(lb, crebo, n) -> UpstreamSubscription:
    return UpstreamSubscription(guid(n), lb, crebo, datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_sync_plan(store):
    store.record_subscription_intent(SCHOOL, "500", 25180)
    pending = store.list_subscription_intents(SCHOOL)
    local = [_sub("100", "25180", 1), _sub("200", "25180", 2), _sub("300", None, 3)]
    upstream = [_up("100", "25180", 1),   # matches
                _up("200", "25180", 20),  # same key under another id: adopt
                _up("200", "25180", 21),  # and a duplicate of it: end
                _up("400", "11111", 4),   # nobody wants it: end
                _up("500", "25180", 5)]   # a pending intent's: adopt
    plan = plan_subscription_sync(local, pending, upstream)
    assert [u.abonnement_id for u in plan.adopt] == [guid(20), guid(5)]
    assert [u.abonnement_id for u in plan.end] == [guid(21), guid(4)]
    assert [s.abonnement_id for s in plan.create] == [guid(3)]  # gone upstream
    assert plan_subscription_sync(local[:1], [], upstream[:1]).empty

    for s in local:
        store.upsert_subscription(SCHOOL, s.leerbedrijf_id, s.crebo, s.abonnement_id, s.since)
    store.apply_subscription_sync(SCHOOL, plan)
    assert sorted(s.abonnement_id for s in store.list_subscriptions()) == sorted([guid(1), guid(20), guid(5)])
    assert [(i.leerbedrijf_id, i.crebo) for i in store.list_subscription_intents()] == [("300", None)]
