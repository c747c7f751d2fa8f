"""Low-level helpers: array routines and the thread pool."""
