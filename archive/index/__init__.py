"""The SQLite index: schema and migrations, the hash chain, and the queries other rooms use."""
