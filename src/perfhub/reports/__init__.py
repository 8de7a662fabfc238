"""Reports over the whole installation, for its operators: the pilot's success metrics
(docs/pilot.md). A report reads every domain's rows; no domain reads a report."""
