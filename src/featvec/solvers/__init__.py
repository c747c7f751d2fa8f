"""Closed-form and iterative solvers: implicit ALS by conjugate gradient, randomised SVD."""
