"""Loopback servers only the tests and benchmarks use: hostile sites, replays of recordings, a synthetic site."""
