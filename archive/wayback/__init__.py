"""The Wayback Machine: its protocol, the rate policy, Save Page Now and closest-snapshot look-ups."""
