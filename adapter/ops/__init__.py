"""What operators see: the audit trail, Prometheus metrics, housekeeping (purge of delivered mutations)."""
