"""Two threads at once: what one thread switches on or records stays its own.

The dashboard answers several requests at once on a thread pool (predicting
under ``no_grad`` for one, tracing a sample with gradients for another), and
an Optuna study with ``n_jobs=2`` trains two models on two threads. These
tests make the overlap happen for certain, with events rather than timing.
"""

import threading

import numpy as np

import glassnet as gn
from glassnet import kernels, nn
from glassnet.inspect.trace import trace


def _in_thread(fn):
    """Start ``fn`` on a thread; return (thread, its result list)."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    return t, out


def test_no_grad_in_one_thread_leaves_another_recording():
    entered, release = threading.Event(), threading.Event()

    def other():
        with gn.no_grad():
            entered.set()
            release.wait(10)
            return (gn.tensor([1.0], requires_grad=True) * 2).requires_grad

    t, out = _in_thread(other)
    assert entered.wait(10)
    try:
        w = gn.tensor([1.0, 2.0], requires_grad=True)
        y = (w * 3).sum()  # recorded here, although the other thread is in no_grad
        assert gn.is_grad_enabled()
        y.backward()
        np.testing.assert_array_equal(w.grad, [3.0, 3.0])
    finally:
        release.set()
        t.join(10)
    assert out == [False]  # and the other thread's block still recorded nothing


class _RunsAnotherModel(nn.Module):
    """Identity that, mid-forward, runs another model to its end on another
    thread, and the traced model's own first layer there too (held in a
    closure, so neither is a child of this layer)."""

    def __init__(self, other, mine):
        self.run_elsewhere = lambda x: (other(np.ones((3, 4))), mine(x))

    def forward(self, x):
        t, _ = _in_thread(lambda: self.run_elsewhere(x.data))
        t.join(10)
        return x


def test_a_trace_shows_only_its_own_models_layers_from_its_own_thread():
    first = nn.Dense(4, 4)
    other = nn.Sequential(nn.Dense(4, 5), nn.ReLU(), nn.Dense(5, 2), seed=1)
    model = nn.Sequential(first, _RunsAnotherModel(other, first), nn.Dense(4, 3))
    model.reset_parameters(0)
    t = trace(model, np.ones(4, np.float32), target=1)
    assert [layer.name for layer in t.layers] == ["0", "1", "2"]
    # layer 0's own call (on the ones), not the other thread's (on its output)
    np.testing.assert_array_equal(t.layers[0].input, np.ones(4))
    assert t.layers[-1].output.shape == (3,)  # one sample, 3 classes


def test_a_recording_keeps_only_its_own_threads_kernel_calls():
    x = np.ones((2, 3), np.float32)
    w = np.full((3, 4), 0.5, np.float32)
    entered, release = threading.Event(), threading.Event()
    tape = []

    def record():
        with kernels.recording(tape):
            kernels.linear_forward(x, w)
            entered.set()
            release.wait(10)
        return len(tape)

    t, out = _in_thread(record)
    assert entered.wait(10)
    try:
        z = kernels.linear_forward(x, w)  # while the other thread records
    finally:
        release.set()
        t.join(10)
    np.testing.assert_array_equal(z, np.full((2, 4), 1.5, np.float32))
    assert out == [1] and len(tape) == 1  # only the recording thread's call


def test_two_recordings_at_once_each_get_their_own_calls_and_the_names_come_back():
    usual = kernels.linear_forward
    x = np.ones((2, 3), np.float32)
    w = np.ones((3, 4), np.float32)
    tapes = [[], []]
    first_in, second_tries, go_on = (threading.Event() for _ in range(3))

    def record(i, calls):
        if i == 1:
            second_tries.set()
        with kernels.recording(tapes[i]):
            first_in.set()
            go_on.wait(10)
            for _ in range(calls):
                kernels.linear_forward(x, w)

    a, _ = _in_thread(lambda: record(0, 2))
    assert first_in.wait(10)
    b, _ = _in_thread(lambda: record(1, 3))  # waits for the first to end
    assert second_tries.wait(10)
    b.join(0.1)  # give it the time to get in, were it not kept out
    go_on.set()
    a.join(10)
    b.join(10)
    assert [len(t) for t in tapes] == [2, 3]
    assert kernels.linear_forward is usual  # nothing left swapped
