"""Training: the sessions an athlete completed and the load they add up to (docs/plans.md)."""
