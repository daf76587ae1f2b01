"""Search strategies over the pipeline grammar, and the loop that runs them."""
