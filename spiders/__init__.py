"""Spyglass spiders: one per kind of source. They parse; archive/ stores."""
