"""Spyglass's Datasette plugin: the reporter's pages, their templates and the archive's metadata.

Datasette registers each module of `plugins/` through the `datasette` entry
point (pyproject.toml) and serves `templates/` as this plugin's templates, so a
plain `datasette spyglass.db -m <METADATA>` shows the same site as `spyglass serve`.
In a checkout these are links to datasette/, the one copy the repository keeps.
"""
