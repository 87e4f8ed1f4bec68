"""Step 5, clean: raw generations into a dataset: parse -> filter -> deduplicate -> report,
then (step 5b) the label check.

`run` is the clean step's runner and names a cleaned set's files; `checker` is the label
check's (the checker classifier is trained and loaded there too); `card` writes the dataset
card. Every parsed entry ends up either accepted or rejected with one reason, so the counts
always add up (entries_parsed == accepted + rejected).
"""
