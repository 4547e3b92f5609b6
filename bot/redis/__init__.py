"""The Redis-backed queue, locks, shared state and worker (only imported with REDIS_URL)."""
