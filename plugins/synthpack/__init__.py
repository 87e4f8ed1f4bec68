"""synthpack: a LLaMA-Factory config pack and plugin for content-safety data.

The package follows the data flow of the two methods it packages:
render prompts -> build SFT data -> train -> generate -> clean -> register -> evaluate.
"""

__version__ = "0.1.0"
