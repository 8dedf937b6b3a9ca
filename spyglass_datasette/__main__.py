"""`python -m spyglass_datasette` prints the packaged metadata's path, for `datasette ARCHIVE/spyglass.db -m`."""

from archive.publish.datasette import METADATA

print(METADATA)
