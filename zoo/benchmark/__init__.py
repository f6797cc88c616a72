"""`zoo bench`: the course's MNIST training against zoo's, measured side by side in one run.

Inside the package (not only in `benchmarks/`) so that `zoo bench` works from an installed wheel.
"""
