"""featvec's fused training kernels (numba): per-example SGD for the dot-product models and the ALS solver.

torch trains mini-batches well but pays Python and autograd costs on every step; a recommender's step is a
few dot products over rows of 64 floats, so those costs dominate. These kernels run one example at a time
in compiled loops, on blocks of the data that the threads can take without racing (``schedule``).
"""
