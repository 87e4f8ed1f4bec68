"""The file formats the pack reads and writes: user text files (`texts`: JSONL, CSV, TSV,
TXT, labelled or not) and LLaMA-Factory's dataset registry (`dataset_info`)."""
