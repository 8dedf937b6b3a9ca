"""The ingest: the sink, batches and runs, the one path captures take into the index."""
