"""Publishing the archive with Datasette."""
