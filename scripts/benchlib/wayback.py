"""Wayback harvest efficiency: filled in once the Wayback simulator lands (issue 3)."""


def run_wayback_bench(work):
    return []
