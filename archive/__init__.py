"""Spyglass: collect, preserve, index and publish evidence about surveillance technology."""

__version__ = "0.1.0"
