"""Public-records portals: how to walk them, their releases and documents, and product mentions."""
