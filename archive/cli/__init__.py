"""The spyglass command, split by command group (`spyglass` runs archive.cli.main:cli)."""
