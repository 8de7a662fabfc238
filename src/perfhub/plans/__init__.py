"""Planned sessions and their readiness-guided adjustments; adherence (docs/plans.md)."""
