"""Step 2, SFT data: Alpaca records that teach a model to write realistic entries.

`synthesis` builds the first paper's records (a prompt -> N real seed texts of its class);
`debias` builds SR_LLM's rewrite records (unsafe text -> benign rewrite, with a system prompt).
"""
