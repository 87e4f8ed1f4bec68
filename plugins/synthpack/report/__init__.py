"""The run report: an HTML page and summary.json from the step records of a run folder."""
