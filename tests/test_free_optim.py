"""Search-based optimizers: targets, exact budgets, seeds, errors, the M&M story."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassnet as gn
from glassnet.datasets import four_pixel, mm_bags, seed_counts
from glassnet.errors import ConfigError, DataError, DivergedError, ShapeError
from glassnet.landscapes import smooth_valley
from glassnet.nn import Dense, Sequential, Tanh
from glassnet.optim.free import (
    STOP_REASONS,
    CoordinateNudge,
    GeneticAlgorithm,
    GradientDescent,
    GridSearch,
    Newton,
    RandomSearch,
    SimulatedAnnealing,
    parameter_vector,
    set_parameter_vector,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Counted:
    """A function of a vector that remembers every point it was asked about."""

    def __init__(self, fn):
        self.fn, self.points = fn, []

    def __call__(self, x):
        self.points.append(np.array(x, dtype=float))
        return self.fn(x)

    @property
    def calls(self):
        return len(self.points)


FACTORIES = {  # one of each, with settings suited to the tea's temperature scale
    "random": lambda **rules: RandomSearch(**rules),
    "grid": lambda **rules: GridSearch(**rules),
    "nudge": lambda **rules: CoordinateNudge(step=8.0, min_step=1e-3, **rules),
    "gradient": lambda **rules: GradientDescent(lr=20.0, **rules),
    "newton": lambda **rules: Newton(radius=10.0, **rules),
    "annealing": lambda **rules: SimulatedAnnealing(
        step=20.0, temperature=5.0, **rules
    ),
    "genetic": lambda **rules: GeneticAlgorithm(
        population=10, mutation_scale=10.0, **rules
    ),
}
METHOD_NAMES = list(FACTORIES)


def make(name, **rules):
    return FACTORIES[name](**rules)


# --------------------------------------------------------------------------
# Each method finds the bottom of the smooth tea valley
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_each_method_reaches_the_bottom_of_the_smooth_valley(name):
    target = smooth_valley.minimum()[1] + 0.01
    method = make(name, budget=500, seed=3, target_loss=target)
    f = Counted(smooth_valley)
    r = method.minimize(f, [85.0], bounds=smooth_valley.bounds)
    assert r.stop_reason == "target_loss" and r.reached_target
    assert r.loss <= target and abs(r.x[0] - 60.0) < 3.0
    assert r.evaluations == f.calls <= 500
    assert smooth_valley(r.x[0]) == pytest.approx(r.loss)
    assert r.path.shape == (len(r.path_losses), 1)
    assert r.path_losses[-1] == r.loss  # the run ends on the point that hit the target


def test_gradient_descent_with_an_exact_slope_counts_the_slope_as_an_evaluation():
    slope_calls = []

    def slope(x):
        slope_calls.append(x)
        return smooth_valley.slope(x)

    f = Counted(smooth_valley)
    gd = GradientDescent(lr=20.0, gradient=slope, budget=300, target_loss=0.01)
    r = gd.minimize(f, [85.0], bounds=(0, 100))
    assert r.reached_target
    assert r.evaluations == f.calls + len(slope_calls)
    assert (
        len(slope_calls) == f.calls - 1
    )  # one slope per step; the last point just lands


# --------------------------------------------------------------------------
# Budgets, counting, seeds
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("budget", [1, 7, 60])
def test_budget_is_respected_exactly_and_every_call_is_counted(name, budget):
    # a loss whose minimum lies far away keeps every method busy
    f = Counted(lambda x: float(((x - 0.3) ** 2).sum()))
    rules = dict(budget=budget, seed=0, target_loss=-1.0)
    if name == "genetic" and budget < 10:
        with pytest.raises(ConfigError, match="first generation"):
            make(name, **rules)
        return
    method = make(name, **rules)
    if name == "grid" and budget < 4:
        with pytest.raises(ConfigError, match="needs at least 2\\*\\*2 points"):
            method.minimize(f, [90.0, 80.0], bounds=([0, 0], [100, 100]))
        return
    r = method.minimize(f, [90.0, 80.0], bounds=([0, 0], [100, 100]))
    assert r.evaluations == f.calls <= budget
    if r.stop_reason == "budget":
        assert r.evaluations == budget
    assert r.stop_reason in STOP_REASONS
    # the best point reported is one that was evaluated, with its loss
    assert any(np.array_equal(p, r.x) for p in f.points)
    inside = [
        p for p in f.points if np.all((p >= 0) & (p <= 100))
    ]  # not the probes beyond
    assert r.loss == min(f.fn(p) for p in inside)


@pytest.mark.parametrize("name", ["random", "annealing", "genetic"])
def test_stochastic_methods_run_to_the_budget_without_a_target(name):
    r = make(name, budget=123, seed=1).minimize(smooth_valley, [85.0], bounds=(0, 100))
    assert (r.evaluations, r.stop_reason) == (123, "budget")


@pytest.mark.parametrize("name", ["random", "annealing", "genetic", "nudge"])
def test_equal_seeds_reproduce_and_different_seeds_differ(name):
    def run(seed):
        method = make(name, budget=80, seed=seed)
        if name == "nudge":
            method = CoordinateNudge(step=8.0, shuffle=True, budget=80, seed=seed)
        return method.minimize(
            lambda x: float((x**2).sum()), [50.0, -30.0, 20.0], bounds=(-100, 100)
        )

    a, b, c = run(5), run(5), run(6)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.path, b.path)
    assert a.evaluations == b.evaluations
    assert not np.array_equal(a.path, c.path)


def test_a_generator_seed_is_drawn_on_so_two_runs_differ():
    method = RandomSearch(budget=20, seed=np.random.default_rng(0))
    first = method.minimize(lambda x: float(x[0] ** 2), bounds=([-5], [5]))
    second = method.minimize(lambda x: float(x[0] ** 2), bounds=([-5], [5]))
    assert not np.array_equal(first.path, second.path)


def test_grid_search_visits_the_whole_grid_in_order():
    f = Counted(lambda x: float((x[0] - 2) ** 2 + (x[1] + 1) ** 2))
    r = GridSearch(points=(5, 3), budget=15).minimize(f, bounds=([0, -2], [4, 0]))
    assert (r.stop_reason, r.evaluations, f.calls) == ("exhausted", 15, 15)
    assert np.array_equal(r.x, [2.0, -1.0]) and r.loss == 0.0
    assert np.array_equal(f.points[0], [0, -2]) and np.array_equal(f.points[-1], [4, 0])


def test_grid_search_fills_the_budget_by_default():
    r = GridSearch(budget=30).minimize(
        lambda x: float(x.sum()), bounds=([0, 0], [1, 1])
    )
    assert r.evaluations == 25  # 5 x 5 is the finest square grid within 30


def test_paths_of_walkers_go_downhill_and_samplers_record_new_bests():
    f = lambda x: float(((x - [1.0, -2.0]) ** 2).sum())  # noqa: E731
    for method in (
        CoordinateNudge(step=1.0),
        Newton(),
        RandomSearch(budget=300, seed=0),
    ):
        r = method.minimize(f, [4.0, 4.0], bounds=(-10, 10))
        assert np.all(np.diff(r.path_losses) < 0), method
        assert np.all(np.diff(r.path_evaluations) > 0)
        assert r.path_losses[-1] == r.loss


# --------------------------------------------------------------------------
# Newton: curvature steps and the fallback where there is no bowl
# --------------------------------------------------------------------------


def test_newton_steps_to_the_bottom_of_a_quadratic_bowl():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -4.0])
    f = lambda x: float(0.5 * x @ A @ x + b @ x)  # noqa: E731
    r = Newton(radius=100.0).minimize(f, [5.0, 5.0])
    assert np.allclose(r.x, np.linalg.solve(A, -b), atol=1e-6)
    assert r.stop_reason == "converged"
    # one curvature step lands (almost exactly) at the bottom
    assert np.allclose(r.path[1], np.linalg.solve(A, -b), atol=1e-4)


def test_newton_falls_back_to_downhill_where_curvature_is_negative():
    # x**4 - 2 x**2 curves downward at 0: Newton's step there would climb to
    # the hilltop; the fallback goes downhill to one of the valleys at +-1
    f = lambda x: float(x[0] ** 4 - 2 * x[0] ** 2)  # noqa: E731
    r = Newton(radius=0.5).minimize(f, [0.1])
    assert r.x[0] == pytest.approx(1.0, abs=1e-5) and r.loss == pytest.approx(-1.0)
    assert np.all(np.diff(r.path_losses) < 0)


def test_newton_on_a_hilltop_with_bounds_ends_at_the_bound():
    r = Newton(radius=0.25).minimize(
        lambda x: float(-(x[0] ** 2)), [0.5], bounds=(-1, 2)
    )
    assert r.x[0] == 2.0 and r.stop_reason == "converged"


def test_newton_with_exact_derivatives_and_with_autograd():
    A = np.diag([2.0, 8.0])
    f = lambda x: ((x - 1) * (A @ (x - 1))).sum()  # noqa: E731  NumPy and Tensor alike
    exact = Newton(
        gradient=lambda x: 2 * A @ (x - 1), hessian=lambda x: 2 * A, radius=10.0
    )
    r = exact.minimize(lambda x: float(f(x)), [3.0, -3.0])
    assert np.array_equal(r.x, [1.0, 1.0])
    # the start, slope and curvature there, the step; slope and curvature at the bottom
    assert r.evaluations == 6

    def tensor_loss(x):  # receives a float64 Tensor when gradient='autograd'
        d = x - 1.0
        return (d * d * gn.tensor([2.0, 8.0], dtype=np.float64)).sum()

    r = Newton(gradient="autograd", radius=10.0).minimize(tensor_loss, [3.0, -3.0])
    assert np.allclose(r.x, 1.0, atol=1e-6)


def test_gradient_descent_with_autograd_matches_numeric_slopes():
    def loss(x):
        return ((x - 2.0) ** 2).sum()

    auto = GradientDescent(lr=0.1, gradient="autograd", budget=20).minimize(
        loss, [0.0, 5.0]
    )
    numeric = GradientDescent(lr=0.1, budget=60).minimize(
        lambda x: float(loss(x)), [0.0, 5.0]
    )
    assert auto.evaluations == 20 and numeric.evaluations == 60  # 1 vs 1 + n per step
    assert np.allclose(auto.path[:20], numeric.path[:20], atol=1e-5)


def test_gradient_descent_stops_on_a_flat_floor():
    r = GradientDescent(lr=1.0).minimize(lambda x: 3.0, [1.0, 2.0])
    assert (r.stop_reason, r.evaluations) == ("converged", 3)


def test_a_nan_loss_counts_as_worse_than_anything():
    f = lambda x: float("nan") if x[0] > 0 else float(x[0] ** 2)  # noqa: E731
    r = RandomSearch(budget=50, seed=0).minimize(f, bounds=([-1], [1]))
    assert r.x[0] <= 0 and np.isfinite(r.loss)
    with pytest.raises(DivergedError, match="not finite"):
        GradientDescent().minimize(lambda x: float("nan"), [1.0])


# --------------------------------------------------------------------------
# Models: the flat parameter vector, metrics, and neuro-evolution
# --------------------------------------------------------------------------


def test_parameter_vector_round_trip():
    model = Sequential(Dense(3, 2), Tanh(), Dense(2, 1), seed=0)
    v = parameter_vector(model)
    assert v.shape == (model.num_parameters(),) and v.dtype == np.float64
    set_parameter_vector(model, np.arange(v.size, dtype=float))
    assert np.array_equal(model.layers[0].weight.data, np.arange(6).reshape(3, 2))
    assert model.layers[2].bias.data.dtype == np.float32
    with pytest.raises(
        ShapeError,
        match="Sequential has 11 parameter values; got a vector of shape \\(8,\\)",
    ):
        set_parameter_vector(model, np.zeros(8))
    with pytest.raises(ConfigError, match="expected a glassnet Module"):
        parameter_vector([1, 2])


def xor_problem():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])

    def loss(m):
        assert not gn.is_grad_enabled()  # value calls run under no_grad
        return -m(X).log_softmax()[np.arange(4), y].mean()

    def accuracy(m):
        return float((m(X).data.argmax(axis=1) == y).mean())

    return loss, accuracy


def test_model_search_leaves_the_best_weights_in_the_model():
    loss, accuracy = xor_problem()
    model = Sequential(Dense(2, 4), Tanh(), Dense(4, 2), seed=0)
    r = SimulatedAnnealing(
        step=0.2, temperature=0.3, budget=3000, seed=0, target_metric=1.0
    ).minimize(loss, model, metric=accuracy)
    assert r.stop_reason == "target_metric" and r.metric == 1.0
    assert np.allclose(parameter_vector(model), r.x, atol=1e-6)
    with gn.no_grad():
        assert accuracy(model) == 1.0
        assert loss(model).item() == pytest.approx(r.loss, rel=1e-5)
    assert 0 < r.metric_evaluations <= r.evaluations


def test_genetic_algorithm_trains_the_four_pixel_network():
    data = four_pixel()
    X, y = data.X.reshape(8, 4), data.y

    def loss(m):
        return -m(X).log_softmax()[np.arange(8), y].mean()

    def accuracy(m):
        return float((m(X).data.argmax(axis=1) == y).mean())

    model = Sequential(Dense(4, 8), Tanh(), Dense(8, 4), seed=0)
    ga = GeneticAlgorithm(
        population=20,
        mutation_rate=0.2,
        mutation_scale=0.5,
        budget=4000,
        seed=0,
        target_metric=1.0,
    )
    r = ga.minimize(loss, model, metric=accuracy)
    assert r.reached_target and r.evaluations < 4000
    assert (model(X).data.argmax(axis=1) == y).all()


def test_autograd_on_a_model_counts_forward_and_backward_as_one():
    loss, _ = xor_problem()
    calls = []

    def counted(m):
        calls.append(gn.is_grad_enabled())
        return -m(np.eye(2, dtype=np.float32)).log_softmax()[[0, 1], [0, 1]].mean()

    model = Sequential(Dense(2, 2), seed=0)
    r = GradientDescent(lr=0.5, gradient="autograd", budget=10).minimize(counted, model)
    assert r.evaluations == len(calls) == 10 and all(calls)
    assert all(p.grad is None for p in model.parameters())


def test_neuroevolution_example_runs_and_backprop_is_cheapest():
    example = load_example("neuroevolution")
    results = example.run(seeds=1, budget=1500)
    sgd = results[("backpropagation (SGD)", "four-pixel camera")][0][0]
    assert sgd is not None
    for (method, task), runs in results.items():
        used = runs[0][0]
        if used is not None and method != "backpropagation (SGD)" and task == "XOR":
            assert used >= results[("backpropagation (SGD)", task)][0][0]
    assert "| backpropagation (SGD) |" in example.table(results)


# --------------------------------------------------------------------------
# The M&M bags: squared deviation -> mean, absolute deviation -> a median
# --------------------------------------------------------------------------


def test_mm_seed_bags_mean_and_median():
    mm = load_example("mm_bags")
    counts = seed_counts()  # 53 and 57
    sq, ab = mm.squared_deviation(counts), mm.absolute_deviation(counts)
    grid = mm.exhaustive(sq, counts)
    assert grid.x[0] == 55.0 == counts.mean()
    assert mm.calculus(counts).x[0] == 55.0
    assert mm.calculus(counts).path[1, 0] == 55.0  # one Newton step, exactly there
    numeric = Newton(radius=100.0).minimize(
        sq, [40.0]
    )  # three cups per step, no formulas
    assert numeric.x[0] == pytest.approx(55.0, abs=1e-6)
    best = mm.exhaustive(ab, counts)
    assert 53 <= best.x[0] <= 57 and best.loss == 4.0
    assert [ab([g]) for g in (53, 54, 55, 55.5, 57)] == [4.0] * 5
    assert ab([52.9]) > 4.0 and ab([57.1]) > 4.0


def test_mm_example_runs_and_agrees_with_the_analytic_answers():
    results = load_example("mm_bags").main()
    for case in results.values():
        low, high = case["median_interval"]
        assert case["grid_squared"].x[0] == pytest.approx(case["mean"], rel=1e-12)
        assert case["newton_squared"].x[0] == pytest.approx(case["mean"], rel=1e-12)
        assert low <= case["grid_absolute"].x[0] <= high
        assert len(set(case["flat"])) == 1
    assert results["more"]["mean"] == 55.5  # the talk's "about 55 and a half"
    assert results["more"]["median_interval"] == (55.0, 56.0)


@given(st.lists(st.integers(40, 70), min_size=1, max_size=12))
def test_mm_exhaustive_search_and_calculus_agree_for_any_bags(counts):
    mm = load_example_cached()
    counts = np.array(counts)
    m = len(counts)
    sq, ab = mm.squared_deviation(counts), mm.absolute_deviation(counts)
    assert mm.exhaustive(sq, counts).x[0] == pytest.approx(counts.mean(), rel=1e-12)
    assert mm.calculus(counts).x[0] == pytest.approx(counts.mean(), rel=1e-12)
    s = np.sort(counts)
    low, high = float(s[(m - 1) // 2]), float(s[m // 2])
    best = mm.exhaustive(ab, counts)
    assert low <= best.x[0] <= high
    # the whole interval between the middle counts is the flat bottom ...
    bottom = ab([low])
    for g in np.linspace(low, high, 7):
        assert ab([g]) == pytest.approx(bottom)
    assert best.loss == pytest.approx(bottom)
    # ... and stepping outside it costs
    assert ab([low - 0.5]) > bottom and ab([high + 0.5]) > bottom


_MM = []


def load_example_cached():
    if not _MM:
        _MM.append(load_example("mm_bags"))
    return _MM[0]


def test_mm_bags_dataset_is_reused():
    counts = mm_bags(n_bags=40, seed=9)
    assert counts.mean() == 55.5


# --------------------------------------------------------------------------
# Random quadratics and bounds
# --------------------------------------------------------------------------


@given(st.integers(1, 4), st.integers(0, 10_000))
def test_newton_and_nudge_find_the_bottom_of_random_bowls(n, seed):
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, n))
    A = Q @ Q.T + n * np.eye(n)  # positive definite
    bottom = rng.uniform(-3, 3, n)
    f = lambda x: float((x - bottom) @ A @ (x - bottom))  # noqa: E731
    start = rng.uniform(-5, 5, n)
    r = Newton(radius=20.0).minimize(f, start)
    assert np.allclose(r.x, bottom, atol=1e-5)
    r = CoordinateNudge(step=1.0, min_step=1e-7, budget=20_000).minimize(f, start)
    assert r.loss < 1e-6


@given(st.integers(1, 3), st.integers(0, 10_000), st.sampled_from(METHOD_NAMES))
def test_every_evaluated_point_respects_the_bounds(n, seed, name):
    rng = np.random.default_rng(seed)
    low = rng.uniform(-5, 0, n)
    high = low + rng.uniform(0.5, 4, n)
    start = rng.uniform(low, high)
    target = rng.normal(0, 6, n)  # often outside the box: methods press on the walls
    f = Counted(lambda x: float(((x - target) ** 2).sum()))
    method = make(name, budget=60, seed=seed)
    if isinstance(method, (Newton, GradientDescent, CoordinateNudge)):
        method = {
            "newton": Newton(radius=1.0, budget=60),
            "gradient": GradientDescent(lr=0.2, budget=60),
            "nudge": CoordinateNudge(step=0.5, budget=60),
        }[name]
    r = method.minimize(f, start, bounds=(low, high))
    slack = 1e-4 if name in ("newton", "gradient") else 0.0  # finite-difference probes
    points = np.array(f.points)
    assert np.all(points >= low - slack) and np.all(points <= high + slack)
    assert np.all(r.x >= low) and np.all(r.x <= high)
    assert np.all(r.path >= low) and np.all(r.path <= high)


# --------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [0, -3, 2.5, True, None])
def test_bad_budgets(budget):
    with pytest.raises(ConfigError, match="budget must be a positive integer"):
        RandomSearch(budget=budget)


def test_bad_bounds_and_starts():
    f = lambda x: float(x.sum())  # noqa: E731
    with pytest.raises(ConfigError, match="coordinate 1 has low 3 and high 2"):
        RandomSearch().minimize(f, bounds=([0, 3], [1, 2]))
    with pytest.raises(ConfigError, match="pair \\(low, high\\)"):
        RandomSearch().minimize(f, bounds=5)
    with pytest.raises(ConfigError, match="finite"):
        RandomSearch().minimize(f, [0.5], bounds=(0, np.inf))
    with pytest.raises(ShapeError, match="one number or 2 numbers"):
        RandomSearch().minimize(f, [0.0, 0.0], bounds=([0, 0, 0], [1, 1, 1]))
    with pytest.raises(
        ConfigError, match="start lies outside the bounds: coordinate 0 is 7"
    ):
        Newton().minimize(f, [7.0], bounds=(0, 1))
    with pytest.raises(ConfigError, match="give a start point or bounds"):
        SimulatedAnnealing().minimize(f)
    with pytest.raises(
        ConfigError,
        match="number of coordinates is unknown. Pass "
        "bounds=\\(\\[0.0\\], \\[100.0\\]\\)",
    ):
        RandomSearch().minimize(f, bounds=(0, 100))
    with pytest.raises(ShapeError, match="got 2 and 3 numbers"):
        RandomSearch().minimize(f, bounds=([0, 0], [1, 1, 1]))
    with pytest.raises(ShapeError, match="1-D array"):
        Newton().minimize(f, np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="finite and non-empty"):
        Newton().minimize(f, [np.nan])
    with pytest.raises(ConfigError, match="needs bounds"):
        GridSearch().minimize(f, [1.0])


def test_bad_grids():
    f = lambda x: float(x.sum())  # noqa: E731
    with pytest.raises(
        ConfigError, match="grid has 1,000,000 points but the budget is 10,000"
    ):
        GridSearch(points=1000).minimize(f, bounds=([0, 0], [1, 1]))
    with pytest.raises(ConfigError, match="needs at least 2\\*\\*20 points"):
        GridSearch(budget=1000).minimize(f, bounds=(np.zeros(20), np.ones(20)))
    with pytest.raises(
        ConfigError, match="points gives 3 counts but the problem has 2"
    ):
        GridSearch(points=(2, 2, 2)).minimize(f, bounds=([0, 0], [1, 1]))
    with pytest.raises(ConfigError, match="points must be a positive integer"):
        GridSearch(points=0)


def test_bad_genetic_settings():
    with pytest.raises(ConfigError, match="population must be at least 2"):
        GeneticAlgorithm(population=1)
    with pytest.raises(ConfigError, match="population must be a positive integer"):
        GeneticAlgorithm(population=0)
    with pytest.raises(ConfigError, match="population of 50 needs 50 evaluations"):
        GeneticAlgorithm(population=50, budget=20)
    with pytest.raises(
        ConfigError, match="elite must be an integer from 0 to population - 1"
    ):
        GeneticAlgorithm(population=10, elite=10)
    with pytest.raises(
        ConfigError, match="tournament_size must be at most the population"
    ):
        GeneticAlgorithm(population=10, tournament_size=11)
    with pytest.raises(ConfigError, match="selection must be 'tournament' or 'rank'"):
        GeneticAlgorithm(selection="roulette")
    with pytest.raises(ConfigError, match="crossover must be 'blend' or 'uniform'"):
        GeneticAlgorithm(crossover="two-point")
    with pytest.raises(
        ConfigError, match="mutation_rate must be a number in \\[0, 1\\]"
    ):
        GeneticAlgorithm(mutation_rate=1.5)


def test_bad_settings_of_the_other_methods():
    with pytest.raises(ConfigError, match="shrink must be below 1"):
        CoordinateNudge(shrink=1.0)
    with pytest.raises(ConfigError, match="shrink must be a number in \\(0, 1\\]"):
        CoordinateNudge(shrink=0)
    with pytest.raises(ConfigError, match="step must be a positive finite number"):
        SimulatedAnnealing(step=-1)
    with pytest.raises(ConfigError, match="schedule must be 'geometric', 'linear'"):
        SimulatedAnnealing(schedule="cosine")
    with pytest.raises(ConfigError, match="gradient must be 'numeric' or 'autograd'"):
        Newton(gradient="exact")
    with pytest.raises(ConfigError, match="hessian must be 'numeric'"):
        Newton(hessian="autograd")
    with pytest.raises(ConfigError, match="lr must be a positive finite number"):
        GradientDescent(lr=0)
    with pytest.raises(ConfigError, match="target_loss must be a finite number"):
        RandomSearch(target_loss=float("nan"))
    with pytest.raises(ConfigError, match="seed must be an int"):
        RandomSearch(seed="zero")
    sa = SimulatedAnnealing(schedule=lambda share: -1.0, budget=5)
    with pytest.raises(ConfigError, match="schedule returned -1.0"):
        sa.minimize(lambda x: float(x[0] ** 2), [1.0])


def test_bad_objectives():
    with pytest.raises(ConfigError, match="objective must be callable"):
        RandomSearch().minimize(3.0, bounds=(0, 1))
    with pytest.raises(
        DataError, match="must return one number; got ndarray of shape \\(3,\\)"
    ):
        RandomSearch(budget=3).minimize(lambda x: np.ones(3), bounds=([0], [1]))
    with pytest.raises(ConfigError, match="target_metric=1.0 needs a metric function"):
        RandomSearch(target_metric=1.0).minimize(lambda x: 0.0, bounds=(0, 1))
    with pytest.raises(
        ConfigError, match="Return the loss itself, not loss.item\\(\\)"
    ):
        Newton(gradient="autograd").minimize(
            lambda x: float(((x - 1) ** 2).sum().item()), [0.0]
        )
    with pytest.raises(
        ShapeError, match="gradient function must return \\(2,\\) values"
    ):
        GradientDescent(gradient=lambda x: np.zeros(3)).minimize(
            lambda x: 0.0, [0.0, 0.0]
        )
    with pytest.raises(ConfigError, match="has no parameters to search"):
        RandomSearch().minimize(lambda m: 0.0, Sequential(Tanh()))


def test_result_reads_well():
    r = RandomSearch(budget=10, seed=0).minimize(
        lambda x: float(x[0] ** 2), bounds=([-1], [1])
    )
    text = repr(r)
    assert text.startswith("SearchResult(RandomSearch(scale=1, budget=10): loss=")
    assert "stop_reason='budget'" in text
    assert r.message == "the budget of evaluations was spent" and not r.reached_target


def test_annealing_schedules_cool_from_the_first_to_the_final_temperature():
    geometric = SimulatedAnnealing(temperature=2.0, final_temperature=0.02)
    linear = SimulatedAnnealing(
        temperature=2.0, final_temperature=0.02, schedule="linear"
    )
    assert geometric.temperature_at(0.0) == 2.0 == linear.temperature_at(0.0)
    assert geometric.temperature_at(1.0) == pytest.approx(0.02)
    assert geometric.temperature_at(0.5) == pytest.approx(0.2)  # halfway, in ratio
    assert linear.temperature_at(0.5) == pytest.approx(1.01)  # halfway, in steps
    custom = SimulatedAnnealing(schedule=lambda share: 1.0 - 0.5 * share)
    assert custom.temperature_at(0.5) == 0.75


@pytest.mark.parametrize("selection", ["tournament", "rank"])
@pytest.mark.parametrize("crossover", ["blend", "uniform"])
def test_every_genetic_variant_solves_a_bowl(selection, crossover):
    ga = GeneticAlgorithm(
        population=16,
        selection=selection,
        crossover=crossover,
        mutation_scale=0.5,
        budget=3000,
        seed=0,
        target_loss=1e-2,
    )
    r = ga.minimize(
        lambda x: float(((x - [1.0, 2.0, -1.0]) ** 2).sum()),
        bounds=([-5] * 3, [5] * 3),
    )
    assert r.reached_target
    assert np.all(np.diff(r.path_losses) <= 0)  # elitism: the best never gets worse
