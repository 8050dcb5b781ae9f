"""Speed modes: precision and compile, the kept-weights optimizer step, and CSR kernels for pruned layers.

The default path (fp32, the kept-weights step) is exact; anything that changes numerics is opt-in and
recorded in the summary's `environment.speed`.
"""
