"""Exactly-once state: the run journal, its lock, reconciliation with the exchange, status."""
