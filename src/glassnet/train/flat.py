"""Every parameter (and its optimizer state) as a view into one flat array.

A fast training step (:mod:`glassnet.train.capture`) moves all weights with
one ``update_one`` call instead of one per parameter. That equals the
per-parameter updates only for a rule that treats every element on its own
(SGD's, Adam's, RMSprop's ...) with one set of settings (one parameter
group), and for counters (Adam's step, NAdam's product of momenta) that agree
across the parameters; otherwise :meth:`FlatParameters.update` runs the optimizer's own
``step()``. The parameters' ``data`` become views into the flat array, so the
eager path keeps working on the same memory.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..nn.module import mark_trained
from ..optim import gradient as rules

__all__ = ["FlatParameters"]

_ELEMENTWISE_UPDATES = tuple(
    cls.update_one
    for cls in (rules.SGD, rules.Adam, rules.RMSprop, rules.Adagrad, rules.NAdam,
                rules.RAdam)
)  # fmt: skip


class _Flat:
    """A stand-in parameter for ``Optimizer.update_one``: every parameter at once."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


class FlatParameters:
    """The parameters of ``model`` held by ``optimizer``, bound to flat arrays.

    ``grads[i]`` is parameter i's gradient buffer (a view into ``grad``);
    ``update()`` points every ``p.grad`` at it and moves every weight.
    """

    def __init__(self, where: str, model, optimizer):
        self.params, self.optimizer = model.parameters(), optimizer
        names = {id(p): name for name, p in optimizer.params}
        if any(id(p) not in names for p in self.params):
            raise ConfigError(
                f"{where}: the optimizer does not hold every parameter of the model; "
                "give it the model (e.g. SGD(model, lr=0.1))."
            )
        dtypes = {p.data.dtype for p in self.params}
        if len(dtypes) != 1:
            raise ConfigError(f"{where}: parameters of one dtype please; got {dtypes}.")
        self.dtype = dtypes.pop()
        self.names = [names[id(p)] for p in self.params]
        self.bind()

    def bind(self) -> None:
        """Copy the parameters and their state into flat arrays; make them views."""
        opt, params = self.optimizer, self.params
        offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        spans, total = list(zip(offsets, offsets[1:])), offsets[-1]
        self.flat = _Flat(np.empty(total, self.dtype))
        self.grad = np.empty(total, self.dtype)
        self.views = [self.flat.data[a:b].reshape(p.shape) for p, (a, b) in
                      zip(params, spans)]  # fmt: skip
        self.grads = [
            self.grad[a:b].reshape(p.shape) for p, (a, b) in zip(params, spans)
        ]
        for p, view in zip(params, self.views):
            view[...] = p.data
            p.data = view
        mark_trained(params)  # the updates below bypass Optimizer.step, which marks
        # One update for all: an elementwise rule, one set of settings (one group).
        self.elementwise = (
            type(opt).update_one in _ELEMENTWISE_UPDATES and len(opt.groups) == 1
        )
        if not self.elementwise:
            return
        h = opt.hyper_of(opt.groups[0])
        flat_state, counters = opt.init_state(self.flat, h), {}
        for name, p, (a, b) in zip(self.names, params, spans):
            state = opt.state.get(name)
            if state is None:
                state = opt.state[name] = opt.init_state(p, h)
            for key, value in flat_state.items():
                if isinstance(value, np.ndarray) and value.shape == (total,):
                    value[a:b] = state[key].reshape(-1)
                    state[key] = value[a:b].reshape(p.shape)
                elif not isinstance(value, np.ndarray):  # a counter: Adam's step
                    counters.setdefault(key, set()).add(state[key])
        if any(len(values) != 1 for values in counters.values()):
            self.elementwise = False  # parameters updated unevenly before: apart
            return
        flat_state.update({key: values.pop() for key, values in counters.items()})
        self.flat_state, self.counters = flat_state, list(counters)
        self.states = [opt.state[name] for name in self.names]

    def bound(self) -> bool:
        """False when a parameter's array was replaced (load_state_dict, a restore)."""
        for p, view in zip(self.params, self.views):  # loops: every step calls
            if p.data is not view:
                return False
        if self.elementwise:
            state = self.optimizer.state
            for name, s in zip(self.names, self.states):
                if state.get(name) is not s:
                    return False
        return True

    def update(self) -> None:
        """One optimizer step with the gradients in ``grads``."""
        opt = self.optimizer
        for p, g in zip(self.params, self.grads):
            p.grad = g
        if not self.elementwise:
            opt.step()
            return
        flat_state, states = self.flat_state, self.states
        for key in self.counters:  # eager steps in between may have moved them
            flat_state[key] = states[0][key]
        opt.update_one(self.flat, self.grad, flat_state, opt.hyper_of(opt.groups[0]))
        for key in self.counters:
            value = flat_state[key]
            for state in states:
                state[key] = value
        opt.steps += 1
