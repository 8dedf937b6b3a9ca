"""Redis mode: crawl workers on any machine share one frontier in Redis; one ingest keeps the one index."""
