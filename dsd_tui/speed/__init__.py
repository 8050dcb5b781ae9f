"""Speed modes: precision and compile, and CSR kernels for pruned layers.

The default path (fp32, the kept-weights step of core/kept_weights.py, which every run uses) is exact;
anything that changes numerics is opt-in and recorded in the summary's `environment.speed`.
"""
