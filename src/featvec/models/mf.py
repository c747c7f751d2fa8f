"""MatrixFactorization: dot product of user and item vectors plus biases (notebooks 002, 004)."""
from __future__ import annotations

from typing import Sequence

from featvec.io.persistence import register
from featvec.models.recommender import RatingRecommender


@register
class MatrixFactorization(RatingRecommender):
    """Biased matrix factorisation, optionally with side features and the SVD++ implicit term.

    rating ~ offset + b_user + b_item + <user vector, item vector>, where each side's vector is the sum of its
    groups: the id embedding, the side features (``user_features`` / ``item_features``) and, with
    ``implicit=True``, the sqrt-normalised bag of the items the user rated in training.

    With ``optimizer="sgd"`` and ``batch_size=1`` (the defaults) on the CPU every rating takes one SGD step in
    featvec's fused kernel (as Surprise and LIBMF do), the threads working on blocks of users x items that share
    no row, so a seed and a thread count give bit-identical models. Any other optimizer, batch size or device
    trains mini-batches through torch.

    Parameters
    ----------
    dim : int, default 128
        Length of every vector: the id embedding's and each side-feature group's.
    user_features : sequence of Categorical, Numeric or Bag, default None
        The user side table's features. None: inferred from the table given to ``fit`` (lists -> ``Bag``,
        numbers -> ``Numeric`` with mean imputation, anything else -> ``Categorical``); no table, no features.
    item_features : sequence of Categorical, Numeric or Bag, default None
        The item side table's features, as ``user_features``.
    implicit : bool, default False
        Add SVD++'s implicit term to the user side: the sqrt-normalised bag of the items the user rated in
        training, one vector per item.
    user_col : str, default "user_id"
        Column of the user ids in the ratings (and the key of the user side table).
    item_col : str, default "item_id"
        Column of the item ids in the ratings (and the key of the item side table).
    rating_col : str, default "rating"
        Column of the ratings (numbers).
    min_count : int, default 1
        Users / items with fewer training ratings share the 'unknown' id vector (their side features still count).
    y_range : "auto", None or (float, float), default "auto"
        The output is a sigmoid scaled to this range, padded by 5% of it each side: "auto" is the training
        ratings' (min, max); None: the raw score. Predictions are clipped to the training range either way.
    epochs : int, default 40
        Passes over the training ratings.
    batch_size : int, default 1
        Ratings per step; 1 with ``optimizer="sgd"`` on the CPU is the fused per-rating SGD.
    lr : float, default 0.02
        Learning rate (the schedule's peak).
    optimizer : {"sgd", "adam", "adamw", "sparse_adam", "adagrad"}, default "sgd"
        featvec's optimisers (``featvec.training.optim``), lazy on sparse gradients; "sparse_adam" is "adamw".
    weight_decay : float, default 0.0
        Weight decay of torch training (decoupled for "adamw", an L2 term in the gradient otherwise); the fused
        SGD refuses it (a ValueError at ``fit``): it regularises with ``reg``.
    reg : float, default 0.06
        L2 on every vector a rating uses: fused SGD steps ``W -= lr * (grad + reg * W)``; through torch the loss
        adds ``reg`` times the batch's mean squared norm of those vectors.
    bias_reg : float, default 0.02
        The same L2 on the user and item biases.
    init_std : float, default 0.01
        Standard deviation of the normal initial vectors (biases start at zero; the offset gives the mean rating).
    schedule : {"cosine", "linear", "constant", "onecycle"}, default "cosine"
        Learning-rate schedule. Fused SGD, per epoch: "cosine" or "linear" down to a tenth of ``lr``, or "constant";
        torch, per step: "onecycle", "cosine" (down to 0) or "constant". Another raises a ValueError at ``fit``.
    valid_frac : float, default 0.0
        Share of the ratings (drawn with ``seed``) held out, not trained on, and scored every epoch (``valid_loss``
        in ``history_``). Not used when ``fit`` gets ``valid`` or there are fewer than 20 ratings.
    patience : int, default None
        Early stopping: stop once the validation loss has not improved for more than ``patience`` epochs in a row,
        keeping the best epoch's weights. Needs validation rows (``valid`` or ``valid_frac``); None: never stop.
    seed : int, default 0
        Seed of the validation split, the initial weights and the order of the training steps.
    device : str, default "cpu"
        "cpu", "cuda" (or any torch device), or "auto": a CUDA GPU, else Apple's MPS, else the CPU. The fused SGD
        runs on the CPU only; on another device training goes through torch, and the per-example settings
        (batch_size 1, optimizer "sgd") become batches of 4,096 with Adam at lr 0.01
        (``featvec.models.params.GPU_BATCHES``; ML-100K RMSE 0.901 against the fused SGD's 0.887).
    show_progress : bool or "auto", default "auto"
        A tqdm progress bar, shown once a fit has run 3 seconds; "auto": only when stderr is a terminal.
    callbacks : sequence of Callback, default ()
        Objects with ``on_train_begin(trainer)``, ``on_epoch_end(trainer, epoch, logs)`` (True stops training) and
        ``on_train_end(trainer)``, as ``featvec.training.Callback``; not saved with the model.
    precision : {"auto", "float32", "bfloat16"}, default "auto"
        Dtype of the matrix products in torch training (not the fused SGD). "auto": bfloat16 only for big linear
        layers on hardware with native bfloat16, which a dot-product model has none of, so float32.

    Attributes
    ----------
    users_, items_ : EntityTable
        The known users / items: their ids (row 0 is 'unknown'), side features and encodings.
    rating_range_ : tuple of float
        (min, max) of the training ratings; predictions are clipped to it.
    seen_ : tuple of Tensor
        Each user's training items, CSR (indptr, item rows): what ``recommend(filter_seen=True)`` leaves out.
    net_ : RecommenderNet
        The trained network.
    history_ : list of dict
        One dict per epoch: epoch, train_loss, valid_loss (with validation rows), lr, seconds.
    trainer_ : Trainer or BlockTrainer
        What trained the model (not kept by ``save``).
    vectors_ : VectorSet
        Labelled tables: ``users`` and ``items`` (the full vectors the model scores with) and one per feature
        group, ``user.id``, ``item.id``, ``item.<feature>``, ...

    Notes
    -----
    The defaults (dim 128, lr 0.02, reg 0.06, bias_reg 0.02, 40 epochs) were chosen on validation rows carved out
    of protocol E's training parts (ML-100K and ml-latest-small, seeds 0-2; 240 settings of dim, reg, lr, epochs
    and bias_reg), never on its test rows; they beat Surprise's SVD++ there out of the box.
    """

    _interaction = "dot"

    def __init__(self, dim: int = 128, user_features: Sequence | None = None, item_features: Sequence | None = None,
                 implicit: bool = False, user_col: str = "user_id", item_col: str = "item_id",
                 rating_col: str = "rating", min_count: int = 1, y_range="auto", epochs: int = 40,
                 batch_size: int = 1, lr: float = 0.02, optimizer: str = "sgd", weight_decay: float = 0.0,
                 reg: float = 0.06, bias_reg: float = 0.02, init_std: float = 0.01, schedule: str = "cosine",
                 valid_frac: float = 0.0, patience: int | None = None, seed: int = 0, device: str = "cpu",
                 show_progress="auto", callbacks: Sequence = (), precision: str = "auto"):
        self._init_params(locals())
