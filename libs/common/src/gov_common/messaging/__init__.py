"""Reliable messaging: the transactional outbox, its relay, and the idempotent consumer."""
