"""What a team membership can share: the athlete's signals, each granted on its own."""

# The order is the order shown and stored; privacy.disclosure says what each one discloses.
SIGNALS = ("hrv", "sleep", "readiness", "training")
