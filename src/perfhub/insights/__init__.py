"""Weekly insights: each athlete's week in figures and a few sentences, and a team's (docs/weekly.md)."""
