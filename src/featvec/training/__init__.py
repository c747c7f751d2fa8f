"""Training: the torch Trainer, the epoch loop, featvec's optimisers, early stopping, progress bars, rows."""
from featvec.training.trainer import (auto_batch, auto_lr, autocast_dtype, Callback, LabelledRows, lr_at,
                                      resolve_device, Rows, seed_everything, seeded, Trainable, Trainer, twice_if_single)

__all__ = ["auto_batch", "auto_lr", "autocast_dtype", "Callback", "LabelledRows", "lr_at", "resolve_device",
           "Rows", "seed_everything", "seeded", "Trainable", "Trainer", "twice_if_single"]
