"""The demo: every step of Algorithm 1 on the embedded default model, in one run folder.

`layout` names the steps and the files of a run folder, `steps` runs them (resumably),
`report` builds the HTML page and summary.json from what the steps wrote.
"""
