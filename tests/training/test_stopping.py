from featvec.training.stopping import EarlyStopping


def test_stops_after_patience_epochs_without_improvement_and_keeps_the_best_snapshot():
    stop = EarlyStopping(patience=1)
    losses = [1.0, 0.5, 0.6, 0.55, 0.7]
    stopped_at = None
    for epoch, loss in enumerate(losses):
        if stop.update(loss, lambda: epoch):
            stopped_at = epoch
            break
    assert stopped_at == 3  # epochs 2 and 3 did not beat 0.5: the second one stops
    assert stop.best == 0.5 and stop.best_state == 1


def test_no_patience_never_stops_and_takes_no_snapshot():
    stop = EarlyStopping(patience=None)
    calls = []
    assert not any(stop.update(loss, lambda: calls.append(1)) for loss in [3.0, 2.0, 5.0, 9.0])
    assert stop.best_state is None and calls == []


def test_an_improvement_smaller_than_the_tolerance_counts_as_none():
    stop = EarlyStopping(patience=0)
    assert not stop.update(1.0, lambda: "a")
    assert stop.update(1.0 - 1e-9, lambda: "b")
    assert stop.best_state == "a"
