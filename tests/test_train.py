"""fit / evaluate / predict: accuracy reached on the digits, and every documented check."""

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn, optim
from glassnet.data.transforms import Standardizer, batches, train_test_split
from glassnet.datasets import digits
from glassnet.losses import CrossEntropy
from glassnet.train import EarlyStopping, evaluate, fit, predict, predict_classes


@pytest.fixture(scope="module")
def digit_split():
    data = digits(flatten=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.25, seed=0
    )
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def small_mlp(seed=0):
    return nn.Sequential(nn.Dense(64, 32), nn.Sigmoid(), nn.Dense(32, 10), seed=seed)


# --- the seed-003 story -----------------------------------------------------------------


def test_digits_mlp_reaches_97_percent(digit_split):
    from glassnet.demos.digits import train_digits

    model, history, (_, X_test, _, y_test), scaler = train_digits(verbose=0)
    accuracy = evaluate(model, scaler.transform(X_test), y_test)["accuracy"]
    assert accuracy >= 0.97
    assert history.loss[-1] < history.loss[0] / 10


def test_zero_versus_one_without_hidden_layer_reaches_99_percent():
    data = digits(classes=[0, 1], flatten=True)
    X_train, X_test, y_train, y_test = train_test_split(data.X / 16, data.y, seed=0)
    model = nn.Sequential(
        nn.Dense(64, 1), nn.Sigmoid(), seed=0
    )  # one neuron, no hidden layer
    fit(
        model,
        X_train,
        y_train[:, None].astype(np.float32),
        loss="bce",
        optimizer=optim.SGD(model, lr=0.5),
        epochs=20,
        seed=0,
        verbose=0,
    )
    assert (
        evaluate(model, X_test, y_test[:, None].astype(np.float32), loss="bce")[
            "accuracy"
        ]
        >= 0.99
    )


# --- the loop itself --------------------------------------------------------------------


def test_fit_is_the_ten_line_loop(digit_split):
    X, _, y, _ = digit_split
    X, y = X[:200], y[:200]
    a, b = small_mlp(), small_mlp()
    fit(
        a,
        X,
        y,
        loss="cross_entropy",
        optimizer=optim.SGD(a, lr=0.1),
        epochs=2,
        batch_size=32,
        seed=5,
        verbose=0,
    )

    loss_fn, optimizer, rng = (
        CrossEntropy(),
        optim.SGD(b, lr=0.1),
        np.random.default_rng(5),
    )
    for _epoch in range(2):
        for xb, yb in batches(X, y, batch_size=32, shuffle=True, seed=rng):
            loss = loss_fn(b(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_same_seed_same_history_and_weights(digit_split):
    X, _, y, _ = digit_split
    runs = []
    for _ in range(2):
        model = small_mlp(3)
        h = fit(
            model, X[:300], y[:300], epochs=3, validation_split=0.2, seed=11, verbose=0
        )
        runs.append((h.to_dict(), model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][k], runs[1][1][k])
    assert set(runs[0][0]) == {"epochs", "loss", "accuracy", "val_loss", "val_accuracy"}


def test_history_validation_and_predict(digit_split):
    X_train, X_test, y_train, y_test = digit_split
    model = small_mlp()
    h = fit(
        model,
        X_train,
        y_train,
        epochs=4,
        validation_data=(X_test, y_test),
        optimizer="adam",
        lr=0.01,
        seed=0,
        verbose=0,
    )
    assert len(h) == 4 and len(h["val_accuracy"]) == 4
    scores = evaluate(model, X_test, y_test)
    assert scores["accuracy"] == pytest.approx(h.val_accuracy[-1])
    out = predict(model, X_test)
    assert out.shape == (len(X_test), 10) and out.dtype == np.float32
    np.testing.assert_array_equal(predict_classes(model, X_test), out.argmax(axis=1))
    assert model.training  # predict/evaluate restore the mode


def test_any_tensor_expression_is_a_loss():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (64, 1)).astype(np.float32)
    y = 3 * X + 1

    def quartic(prediction, target):  # anything that grows with the distance works
        return ((prediction - target) ** 4).mean()

    model = nn.Sequential(nn.Dense(1, 1), seed=0)
    h = fit(
        model,
        X,
        y,
        loss=quartic,
        optimizer=optim.SGD(model, lr=0.1),
        epochs=200,
        batch_size=64,
        seed=0,
        verbose=0,
    )
    assert h.loss[-1] < 1e-4
    np.testing.assert_allclose(
        [model[0].weight.item(), model[0].bias.item()], [3, 1], atol=0.1
    )


# --- callbacks ------------------------------------------------------------------------


def test_early_stopping_at_a_target(digit_split):
    X, _, y, _ = digit_split
    stop = EarlyStopping(monitor="accuracy", target=0.9)
    h = fit(
        small_mlp(),
        X,
        y,
        epochs=50,
        optimizer="adam",
        lr=0.01,
        callbacks=[stop],
        seed=0,
        verbose=0,
    )
    assert (
        len(h) < 50 and h.accuracy[-1] >= 0.9 and max(h.accuracy[:-1], default=0) < 0.9
    )


def test_early_stopping_patience_restores_best_weights(digit_split):
    X, Xv, y, yv = digit_split
    model = small_mlp()
    stop = EarlyStopping(monitor="val_loss", patience=2)
    h = fit(
        model,
        X[:100],
        y[:100],
        epochs=60,
        optimizer="adam",
        lr=0.05,
        validation_data=(Xv, yv),
        callbacks=[stop],
        seed=0,
        verbose=0,
    )
    best = int(np.argmin(h.val_loss))
    assert len(h) == best + 3  # two epochs of patience after the best
    assert evaluate(model, Xv, yv)["loss"] == pytest.approx(h.val_loss[best], rel=1e-5)


def test_nan_stops_with_epoch_and_batch_and_keeps_finite_weights(digit_split):
    X, _, y, _ = digit_split
    model = nn.Sequential(
        nn.Dense(64, 1), seed=0
    )  # linear regression, far too big a step
    target = y[:, None].astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(
            gn.DivergedError,
            match=r"epoch \d+, batch \d+.*smaller learning rate \(now 5\)",
        ) as e:
            fit(
                model,
                X,
                target,
                loss="mse",
                optimizer=optim.SGD(model, lr=5.0),
                epochs=20,
                seed=0,
                verbose=0,
            )
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    assert isinstance(e.value.history, gn.train.History)


def test_progress_lines_when_piped(digit_split, capsys):
    X, _, y, _ = digit_split
    fit(small_mlp(), X[:64], y[:64], epochs=2, seed=0, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss ")
    fit(small_mlp(), X[:64], y[:64], epochs=2, seed=0, verbose=0)
    assert capsys.readouterr().out == ""


# --- bad input: each a clear error before training starts ---------------------------------


def test_lengths_must_match(digit_split):
    X, _, y, _ = digit_split
    with pytest.raises(gn.DataError, match=r"X has 100 samples but y has 99"):
        fit(small_mlp(), X[:100], y[:99], verbose=0)


def test_feature_count_must_match_first_layer(digit_split):
    X, _, y, _ = digit_split
    # before training: the starting loss's 256 samples (of 400) go forward first
    with pytest.raises(
        gn.ShapeError, match=r"Dense\(in_features=64\) .* got shape \(256, 63\)"
    ):
        fit(small_mlp(), X[:, :63], y, verbose=0)


def test_labels_must_fit_the_outputs(digit_split):
    X, _, y, _ = digit_split
    bad = y.copy()
    bad[7] = 12
    with pytest.raises(
        gn.DataError,
        match=r"10 outputs, so labels must be in \[0, 10\); "
        r"label 12 at sample 7",
    ):
        fit(small_mlp(), X, bad, verbose=0)
    with pytest.raises(gn.DataError, match="label -1"):
        fit(small_mlp(), X, y - 1, verbose=0)


def test_nan_in_inputs_is_refused(digit_split):
    X, _, y, _ = digit_split
    X = X.copy()
    X[3, 5] = np.nan
    with pytest.raises(
        gn.DataError,
        match=r"X contains 1 NaN or infinite value\(s\); the first "
        r"is at index \(3, 5\)",
    ):
        fit(small_mlp(), X, y, verbose=0)


@pytest.mark.parametrize("lr", [0, -0.1, float("nan")])
def test_learning_rate_must_be_positive(lr):
    with pytest.raises(gn.ConfigError, match="lr must be a positive finite number"):
        fit(
            small_mlp(),
            np.zeros((4, 64)),
            np.zeros(4, int),
            optimizer="sgd",
            lr=lr,
            verbose=0,
        )


def test_unknown_names_are_listed():
    with pytest.raises(gn.ConfigError, match="unknown optimizer 'adamm'"):
        fit(
            small_mlp(),
            np.zeros((4, 64)),
            np.zeros(4, int),
            optimizer="adamm",
            verbose=0,
        )
    with pytest.raises(gn.ConfigError, match="both"):
        fit(
            small_mlp(),
            np.zeros((4, 64)),
            np.zeros(4, int),
            validation_split=0.5,
            validation_data=(np.zeros((2, 64)), np.zeros(2, int)),
            verbose=0,
        )
