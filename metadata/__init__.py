"""automl's knowledge base: text files read through ``automl.knowledge`` only."""
