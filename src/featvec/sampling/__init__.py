"""Negative samplers: per-user item negatives, feat2vec's group resampler."""
