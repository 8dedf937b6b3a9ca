"""WARC files, the evidence store: writing records, and the one reader of them."""
