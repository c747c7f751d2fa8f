"""DeepRecommender: an MLP over the concatenated user and item vectors, optionally plus their dot product."""
from __future__ import annotations

from typing import Sequence

from featvec.io.persistence import register
from featvec.models.recommender import RatingRecommender


@register
class DeepRecommender(RatingRecommender):
    """rating ~ offset + biases + MLP([user groups..., item groups...]) (+ <user, item> when ``use_dot``).

    The notebooks' "deep" model (concat + dense layers); with ``use_dot=True`` it is NeuMF-like, keeping the
    factorisation term so the MLP learns what the dot product misses. It always trains mini-batches through
    torch (the fused per-rating SGD is for ``MatrixFactorization``'s dot product only).

    Parameters
    ----------
    dim : int, default 32
        Length of every vector: the id embedding's and each side-feature group's.
    layers : sequence of int, default (128, 64)
        Hidden widths of the MLP (Linear-ReLU-dropout each, no batch norm) over the concatenated group vectors.
    dropout : float, default 0.2
        Dropout after each hidden layer of the MLP.
    use_dot : bool, default True
        Add the dot product of the summed user and item vectors to the MLP's output.
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
    epochs : int, default 15
        Passes over the training ratings.
    batch_size : int, default 1024
        Ratings per step.
    lr : float, default 0.003
        Learning rate (the schedule's peak).
    optimizer : {"adam", "adamw", "sparse_adam", "sgd", "adagrad"}, default "adam"
        featvec's optimisers (``featvec.training.optim``), lazy on sparse gradients; "sparse_adam" is "adamw".
    weight_decay : float, default 0.0
        Weight decay (decoupled for "adamw", an L2 term in the gradient otherwise).
    reg : float, default 0.05
        L2 on the vectors a rating uses: the loss adds ``reg`` times the batch's mean squared norm of them.
    bias_reg : float, default 0.0
        The same L2 on the user and item biases.
    init_std : float, default 0.01
        Standard deviation of the normal initial vectors (biases start at zero; the offset gives the mean rating).
    schedule : {"onecycle", "cosine", "constant"}, default "onecycle"
        Learning-rate schedule, per step: "onecycle" (warm-up from lr/25 over the first quarter, then cosine down
        to lr/1e4), "cosine" (down to 0) or "constant". "linear" (fused SGD only) raises a ValueError at ``fit``.
    valid_frac : float, default 0.0
        Share of the ratings (drawn with ``seed``) held out, not trained on, and scored every epoch (``valid_loss``
        in ``history_``). Not used when ``fit`` gets ``valid`` or there are fewer than 20 ratings.
    patience : int, default None
        Early stopping: stop once the validation loss has not improved for more than ``patience`` epochs in a row,
        keeping the best epoch's weights. Needs validation rows (``valid`` or ``valid_frac``); None: never stop.
    seed : int, default 0
        Seed of the validation split, the initial weights, dropout and the order of the batches.
    device : str, default "cpu"
        "cpu", "cuda" (or any torch device), or "auto": a CUDA GPU, else Apple's MPS, else the CPU.
    show_progress : bool or "auto", default "auto"
        A tqdm progress bar, shown once a fit has run 3 seconds; "auto": only when stderr is a terminal.
    callbacks : sequence of Callback, default ()
        Objects with ``on_train_begin(trainer)``, ``on_epoch_end(trainer, epoch, logs)`` (True stops training) and
        ``on_train_end(trainer)``, as ``featvec.training.Callback``; not saved with the model.
    precision : {"auto", "float32", "bfloat16"}, default "auto"
        Dtype of the matrix products: "auto" is bfloat16 where the CPU (AVX512-BF16 / AMX) or CUDA GPU has it natively
        and a batch's largest layer is big enough to gain; parameters, optimiser state and losses stay float32.

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
    trainer_ : Trainer
        What trained the model (not kept by ``save``).
    vectors_ : VectorSet
        Labelled tables: ``users`` and ``items`` (each side's group vectors side by side, as the MLP reads them)
        and one per feature group, ``user.id``, ``item.id``, ``item.<feature>``, ...
    """

    _interaction = "mlp"

    def __init__(self, dim: int = 32, layers: Sequence[int] = (128, 64), dropout: float = 0.2,
                 use_dot: bool = True, user_features: Sequence | None = None,
                 item_features: Sequence | None = None, implicit: bool = False, user_col: str = "user_id",
                 item_col: str = "item_id", rating_col: str = "rating", min_count: int = 1, y_range="auto",
                 epochs: int = 15, batch_size: int = 1024, lr: float = 3e-3, optimizer: str = "adam",
                 weight_decay: float = 0.0, reg: float = 0.05, bias_reg: float = 0.0, init_std: float = 0.01,
                 schedule: str = "onecycle", valid_frac: float = 0.0, patience: int | None = None, seed: int = 0,
                 device: str = "cpu", show_progress="auto", callbacks: Sequence = (), precision: str = "auto"):
        self._init_params(locals())

    def _net_kwargs(self) -> dict:
        return {"layers": tuple(self.layers), "dropout": self.dropout, "use_dot": self.use_dot}
