"""Step 3, train: LLaMA-Factory YAMLs checked, launched, and the prefix-tuning it lacks.

`lf_config` reads a YAML with key=value overrides and knows LLaMA-Factory's keys, `check`
reports every problem of a YAML before any model loads, `launch` runs the real
`llamafactory-cli train`, `prefix` trains PEFT prefix-tuning on LLaMA-Factory's data code.
"""
