"""Data residency: erasure ledger, purges, exports, legal holds, retention, audit chain, jobs."""
