"""``fit_parallel``: a data-parallel fit in several processes on this machine, the fitted model back."""
from __future__ import annotations

import tempfile
from pathlib import Path

from featvec.io import persistence
from featvec.training.distributed import launch


def fit_parallel(model, *args, nproc: int = 2, **kwargs):
    """Fit ``model`` (any featvec estimator, not fitted) on ``fit(*args, **kwargs)`` in ``nproc`` processes
    on this machine, data-parallel (``featvec.training.distributed``: gloo over loopback, the cores shared
    out); returns the fitted model, rank 0's, saved and loaded back (so ``model`` itself stays unfitted).

    Every process gets the estimator and the data (a frame is copied to each; an ingested folder,
    ``featvec.data.Interactions``, goes by its path). For several machines run the same script under
    ``torchrun``: a fit in a process group of two or more ranks is data-parallel by itself.
    """
    with tempfile.TemporaryDirectory(prefix="featvec-parallel-") as tmp:
        out = Path(tmp) / "model"
        launch(_fit_and_save, (model, args, kwargs, str(out)), nproc, device=getattr(model, "device", None))
        return persistence.load(out)


def _fit_and_save(model, args: tuple, kwargs: dict, out: str) -> None:
    model.fit(*args, **kwargs).save(out)  # rank 0 writes; the others' save writes nothing
