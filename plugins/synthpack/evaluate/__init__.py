"""Step 7, evaluate: the last step of both pipelines.

Pipeline A (`synthpack eval mlp`): `run` compares the classifier trained on real data with
real + synthetic (`augment` forms D_augmented). Pipeline B: `stereoset` and `crows_pairs`
score a causal LM's stereotypes, `debias` measures rewrites. The classifier and the scorers
are models (`synthpack.models`); the metric maths is `synthpack.common.metrics`.
"""
