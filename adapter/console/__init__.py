"""The operators' and integration testers' web console at /console: read-only, server-rendered pages over the shared
audit trail (every worker's and every instance's calls) and the store (pushes, subscriptions), behind credentials
sent in the Authorization header. Off unless ``[console] enabled = true``; it never shows a licence."""
