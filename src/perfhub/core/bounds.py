"""Bounds every external id shares, so that no value the database cannot hold reaches it."""

# PostgreSQL's INTEGER: larger ids cannot exist, and must be a 422 rather than a 500.
MAX_ID = 2**31 - 1
