"""The model layer every step may use: embedded models (`embedded`), the number format
(`precision`), loading and batched decoding (`backends`, `nucleus`), sentence scoring by a
causal LM (`scoring`), sentence embeddings (`embeddings`), the downstream classifier
(`classifier`) and toxicity scorers (`toxicity`)."""
