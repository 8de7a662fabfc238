"""The readiness backtest: a seeded synthetic cohort with labelled episodes (:mod:`.cohort`),
readiness and a reference rule scored against the labels (:mod:`.evaluate`), and the Markdown
report with its charts (:mod:`.report`). Pure numpy: no database, no web framework."""
