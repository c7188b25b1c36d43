"""The adapter's durable store: code mapping, subscriptions and their intents, undelivered mutations.

See docs/store.md. Use ``Store(url)``; ``Store.migrate()`` at start.
"""
from adapter.errors import ImportRejected, MappingImportError, SchemaTooNew, StoreUnavailable, SubscriptionImportError
from adapter.store.migrations import LATEST_VERSION
from adapter.store.model import (
    ImportResult,
    Intent,
    LineProblem,
    Mutation,
    StoredMutation,
    StoredMutationRow,
    Subscription,
    Undelivered,
)
from adapter.store.store import DEFAULT_RETENTION, Store
from adapter.store.sync import SyncPlan, UpstreamSubscription, plan_subscription_sync

__all__ = [
    "DEFAULT_RETENTION", "LATEST_VERSION", "ImportRejected", "ImportResult", "Intent", "LineProblem",
    "MappingImportError", "Mutation", "SchemaTooNew", "Store", "StoreUnavailable", "StoredMutation",
    "StoredMutationRow", "Subscription", "SubscriptionImportError", "SyncPlan", "Undelivered", "UpstreamSubscription",
    "plan_subscription_sync",
]
