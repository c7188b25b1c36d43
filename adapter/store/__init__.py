"""The adapter's durable store: code mapping, subscriptions and their intents, undelivered mutations.

See docs/store.md. Use ``Store(url)``; ``Store.migrate()`` at start.
"""
from adapter.store.migrations import LATEST_VERSION, SchemaTooNew
from adapter.store.model import (ImportRejected, ImportResult, Intent, LineProblem, MappingImportError, Mutation,
                                 StoredMutation, StoredMutationRow, Subscription, SubscriptionImportError)
from adapter.store.store import DEFAULT_RETENTION, Store, StoreUnavailable
from adapter.store.sync import SyncPlan, UpstreamSubscription, plan_subscription_sync

__all__ = [
    "DEFAULT_RETENTION", "LATEST_VERSION", "ImportRejected", "ImportResult", "Intent", "LineProblem",
    "MappingImportError", "Mutation", "SchemaTooNew", "Store", "StoreUnavailable", "StoredMutation",
    "StoredMutationRow", "Subscription", "SubscriptionImportError", "SyncPlan", "UpstreamSubscription",
    "plan_subscription_sync",
]
