"""Evidence for lawyers: citations, verification, RFC 3161 time-stamps and WACZ export."""
