"""sources.yml: what to watch, loaded and validated."""
