"""The Datasette plugin modules; each is its own entry of the `datasette` entry point (pyproject.toml)."""
