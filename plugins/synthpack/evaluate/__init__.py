"""Step 6, evaluate: the last step of both pipelines.

Pipeline A step 7 (`synthpack eval mlp`): `data` reads labelled texts, `classifier` is the fast
TF-IDF/MiniLM MLP, `metrics` holds the pure metric maths (bootstrap intervals, paired tests)
and `run` is the real-vs-augmented comparison. Pipeline B step 6: `lm_scoring` scores sentences
with a causal LM for `stereoset` and `crows_pairs`, `toxicity` loads local classifiers and
`debias` measures rewrites.
"""
