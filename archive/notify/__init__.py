"""Alerts: events worth a message, their targets (Apprise URLs), and deliveries sent exactly once."""
