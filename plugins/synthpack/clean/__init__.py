"""Step 5, clean: raw generations into a dataset: parse -> filter -> deduplicate -> report.

Every parsed entry ends up either accepted or rejected with one reason, so the counts
always add up (entries_parsed == accepted + rejected).
"""
