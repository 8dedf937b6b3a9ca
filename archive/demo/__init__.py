"""The demo's loopback servers: a vendor site, a records portal, a Wayback Machine simulator and a TSA."""
