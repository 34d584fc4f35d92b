"""Shared routing state: the interface, the embedded store and the Redis store."""
