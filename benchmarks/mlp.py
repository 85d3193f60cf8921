"""W1 digits-mlp and W2 mnist-mlp: the two multi-layer perceptrons of DESIGN.md.

- W1 digits-mlp: 64 -> Dense 32, sigmoid -> Dense 10; softmax cross-entropy,
  SGD lr 0.1, batches of 32. Training samples/s. Overhead-bound: each
  matrix product is a few thousand multiply-adds, so the time goes to
  everything around them.
- W2 mnist-mlp: 784 -> 256 ReLU -> 256 ReLU -> 10; cross-entropy, Adam 1e-3,
  batches of 128. Training samples/s, and inference samples/s at batch 1024.

Each is written the way a user writes it: with glassnet's public API
(``nn.Sequential``, ``nn.Dense``, ``losses.CrossEntropy``, ``optim``, the
explicit loop, ``glassnet.fit`` or ``glassnet.train.capture_step``), with
PyTorch's, and as one ``jax.jit`` function (when JAX is installed); and once
more directly in NumPy, by hand, as the floor that a library on NumPy can
hope to reach. All start from the
same weights (glassnet's, drawn from seed 0; a glassnet Dense weight is
(in, out), a torch Linear weight (out, in), so it is transposed) and see the
same batches in the same order. The data are synthetic, from a fixed seed:
N(0, 1) inputs labelled by a random linear "teacher", so the loss falls as
the network learns.

Nothing here imports glassnet, torch or jax at module level: ``glassnet bench``
imports this file in worker processes that must load only one of them.
"""

from __future__ import annotations

N_BATCHES = 16  # distinct batches, visited in turn


class MLPWorkload:
    """One MLP benchmark: its architecture, data, and both implementations."""

    def __init__(
        self,
        key,
        title,
        sizes,
        activation,
        optimizer,
        lr,
        batch,
        infer_batch=None,
        curve_steps=100,
    ):
        self.key, self.title = key, title
        self.sizes, self.activation = tuple(sizes), activation  # 'sigmoid' | 'relu'
        self.optimizer, self.lr, self.batch = optimizer, lr, batch  # 'sgd' | 'adam'
        self.infer_batch = infer_batch
        self.curve_steps = curve_steps
        self.unit = "samples"

    # --- arithmetic: FLOPs (a multiply-add counts 2) ----------------------------
    @property
    def flops_infer(self) -> int:
        """Forward pass of one sample."""
        return sum(2 * a * b for a, b in zip(self.sizes, self.sizes[1:]))

    @property
    def flops_train(self) -> int:
        """Forward, weight gradients, and input gradients of every layer but the first."""
        pairs = list(zip(self.sizes, self.sizes[1:]))
        return 2 * self.flops_infer + sum(2 * a * b for a, b in pairs[1:])

    # --- data and initial weights --------------------------------------------------
    def data(self, seed: int = 0):
        """(X, y): N_BATCHES batches of N(0, 1) inputs, labels from a linear teacher."""
        import numpy as np

        rng = np.random.default_rng(seed)
        n = max(N_BATCHES * self.batch, self.infer_batch or 0)
        X = rng.standard_normal((n, self.sizes[0]), dtype=np.float32)
        teacher = rng.standard_normal((self.sizes[0], self.sizes[-1]), dtype=np.float32)
        return X, (X @ teacher).argmax(axis=1)

    def glassnet_model(self, seed=None):
        from glassnet import nn

        act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[self.activation]
        init = "he" if self.activation == "relu" else "glorot"
        layers = []
        for i, (a, b) in enumerate(zip(self.sizes, self.sizes[1:])):
            last = i == len(self.sizes) - 2
            layers.append(nn.Dense(a, b, init="glorot" if last else init))
            if not last:
                layers.append(act())
        return nn.Sequential(*layers, seed=seed)

    def initial_weights(self) -> dict:
        """glassnet's starting weights (seed 0), by parameter name."""
        return self.glassnet_model(seed=0).state_dict()

    # --- glassnet ---------------------------------------------------------------------
    def glassnet_train(self, weights: dict, variant: str = "loop"):
        """(run, samples): ``run(i)`` does training step i and returns the loss Tensor.

        variant 'loop' is the explicit loop of the README; 'fit' runs
        ``glassnet.fit`` as users call it (``capture='auto'``, the default:
        the eager step's kernel calls replayed in NumPy) for one epoch over
        the N_BATCHES batches per call ('fit-captured': ``capture=True``); 'captured' replays the step
        recorded by ``glassnet.train.capture_step`` (compiled by default: the
        same numbers as 'loop' to float32 rounding; ``run(i)`` returns the
        loss as a float).
        """
        import glassnet as gn
        from glassnet import losses, optim

        model = self.glassnet_model()
        model.load_state_dict(weights)
        opt = (
            optim.SGD(model, lr=self.lr)
            if self.optimizer == "sgd"
            else optim.Adam(model, lr=self.lr)
        )
        loss_fn = losses.CrossEntropy()
        X, y = self.data()
        B = self.batch
        if variant in ("fit", "fit-captured"):
            X, y = X[: N_BATCHES * B], y[: N_BATCHES * B]
            capture = True if variant == "fit-captured" else "auto"

            def run(i):
                gn.fit(
                    model,
                    X,
                    y,
                    loss=loss_fn,
                    optimizer=opt,
                    epochs=1,
                    batch_size=B,
                    seed=i,
                    verbose=0,
                    capture=capture,
                )

            return run, len(X)
        batches = [
            (X[k * B : (k + 1) * B], y[k * B : (k + 1) * B]) for k in range(N_BATCHES)
        ]
        if variant == "captured":
            step = gn.train.capture_step(model, loss_fn, opt)

            def run(i):
                return step(*batches[i % N_BATCHES])

            return run, B
        if variant != "loop":
            raise ValueError(f"unknown glassnet variant {variant!r}")

        def run(i):
            xb, yb = batches[i % N_BATCHES]
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return run, B

    def glassnet_infer(self, weights: dict):
        import glassnet as gn

        model = self.glassnet_model()
        model.load_state_dict(weights)
        X = self.data()[0][: self.infer_batch]

        def run(i):
            return gn.predict(model, X, batch_size=self.infer_batch)

        return run, len(X)

    # --- hand-written NumPy: the floor a NumPy library can hope to reach -----------------
    def numpy_train(self, weights: dict, variant: str = "loop"):
        """The same training step written directly in NumPy, as a careful user would."""
        import numpy as np

        L = len(self.sizes) - 1
        Ws = [weights[f"{2 * i}.weight"].copy() for i in range(L)]
        bs = [weights[f"{2 * i}.bias"].copy() for i in range(L)]
        params = Ws + bs
        X, y = self.data()
        B = self.batch
        batches = [
            (X[k * B : (k + 1) * B], y[k * B : (k + 1) * B]) for k in range(N_BATCHES)
        ]
        rows = np.arange(B)
        sigmoid = self.activation == "sigmoid"
        lr, b1, b2, eps = np.float32(self.lr), 0.9, 0.999, np.float32(1e-8)
        ms = [np.zeros_like(p) for p in params]
        vs = [np.zeros_like(p) for p in params]
        t = [0]

        def run(i):
            xb, yb = batches[i % N_BATCHES]
            hs, h = [xb], xb
            for layer in range(L):
                z = h @ Ws[layer]
                z += bs[layer]
                if layer < L - 1:
                    h = 1 / (1 + np.exp(-z)) if sigmoid else np.maximum(z, 0)
                    hs.append(h)
            zmax = z.max(axis=1, keepdims=True)
            e = np.exp(z - zmax)
            total = e.sum(axis=1, keepdims=True)
            loss = np.mean(np.log(total[:, 0]) + zmax[:, 0] - z[rows, yb])
            g = e / total
            g[rows, yb] -= 1
            g /= B
            gW, gb = [None] * L, [None] * L
            for layer in reversed(range(L)):
                gW[layer] = hs[layer].T @ g
                gb[layer] = g.sum(axis=0)
                if layer > 0:
                    g = g @ Ws[layer].T
                    h = hs[layer]
                    g *= h * (1 - h) if sigmoid else (h > 0)
            grads = gW + gb
            if self.optimizer == "sgd":
                for p, gp in zip(params, grads):
                    p -= lr * gp
            else:
                t[0] += 1
                c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
                for p, gp, m, v in zip(params, grads, ms, vs):
                    m *= b1
                    m += (1 - b1) * gp
                    v *= b2
                    v += (1 - b2) * gp * gp
                    p -= (lr / c1) * m / (np.sqrt(v / c2) + eps)
            return float(loss)

        return run, B

    def numpy_infer(self, weights: dict):
        import numpy as np

        L = len(self.sizes) - 1
        Ws = [weights[f"{2 * i}.weight"] for i in range(L)]
        bs = [weights[f"{2 * i}.bias"] for i in range(L)]
        X = self.data()[0][: self.infer_batch]
        sigmoid = self.activation == "sigmoid"

        def run(i):
            h = X
            for layer in range(L):
                h = h @ Ws[layer]
                h += bs[layer]
                if layer < L - 1:
                    h = 1 / (1 + np.exp(-h)) if sigmoid else np.maximum(h, 0, out=h)
            return h

        return run, len(X)

    # --- PyTorch ------------------------------------------------------------------------
    def torch_model(self, weights: dict):
        import torch

        act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[self.activation]
        layers = []
        pairs = list(zip(self.sizes, self.sizes[1:]))
        for i, (a, b) in enumerate(pairs):
            lin = torch.nn.Linear(a, b)
            with torch.no_grad():  # glassnet (in, out) -> torch (out, in)
                lin.weight.copy_(torch.from_numpy(weights[f"{2 * i}.weight"].T.copy()))
                lin.bias.copy_(torch.from_numpy(weights[f"{2 * i}.bias"]))
            layers.append(lin)
            if i < len(pairs) - 1:
                layers.append(act())
        return torch.nn.Sequential(*layers)

    def torch_train(self, weights: dict, variant: str = "loop"):
        import torch

        model = self.torch_model(weights)
        opt = (
            torch.optim.SGD(model.parameters(), lr=self.lr)
            if self.optimizer == "sgd"
            else torch.optim.Adam(model.parameters(), lr=self.lr)
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        X, y = self.data()
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        B = self.batch
        batches = [
            (X[k * B : (k + 1) * B], y[k * B : (k + 1) * B]) for k in range(N_BATCHES)
        ]

        def run(i):
            xb, yb = batches[i % N_BATCHES]
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return run, B

    def torch_infer(self, weights: dict):
        import torch

        model = self.torch_model(weights).eval()
        X = torch.from_numpy(self.data()[0][: self.infer_batch])

        def run(i):
            with torch.inference_mode():
                return model(X)

        return run, len(X)

    # --- JAX (jit): the same step as one compiled XLA function -------------------------
    def _jax_forward(self, weights: dict):
        import jax
        import jax.numpy as jnp

        act = jax.nn.sigmoid if self.activation == "sigmoid" else jax.nn.relu
        L = len(self.sizes) - 1

        def forward(params, x):
            for layer in range(L):
                x = x @ params[f"{2 * layer}.weight"] + params[f"{2 * layer}.bias"]
                if layer < L - 1:
                    x = act(x)
            return x

        return {k: jnp.asarray(v) for k, v in weights.items()}, forward

    def jax_train(self, weights: dict, variant: str = "loop"):
        """(run, samples): one jitted step (forward, softmax cross-entropy mean,
        gradients by ``jax.grad``, the SGD or Adam update written out as torch's
        formulas); ``run(i)`` waits for the step (``block_until_ready``) and
        returns its loss, as a user who logs the loss does."""
        import jax
        import jax.numpy as jnp

        params, forward = self._jax_forward(weights)
        lr, b1, b2, eps = self.lr, 0.9, 0.999, 1e-8

        def loss_fn(params, x, y):
            z = forward(params, x)
            logp = jax.nn.log_softmax(z)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

        @jax.jit
        def step(params, m, v, t, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            t = t + 1
            if self.optimizer == "sgd":
                update = jax.tree.map(lambda p, g: p - lr * g, params, grads)
                return update, m, v, t, loss
            c1, c2 = 1 - b1**t, 1 - b2**t
            m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
            v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
            params = jax.tree.map(
                lambda p, m, v: p - (lr / c1) * m / (jnp.sqrt(v) / jnp.sqrt(c2) + eps),
                params,
                m,
                v,
            )
            return params, m, v, t, loss

        X, y = self.data()
        B = self.batch
        batches = [
            (jnp.asarray(X[k * B : (k + 1) * B]), jnp.asarray(y[k * B : (k + 1) * B]))
            for k in range(N_BATCHES)
        ]
        zeros = jax.tree.map(jnp.zeros_like, params)
        state = [params, zeros, zeros, jnp.float32(0)]

        def run(i):
            xb, yb = batches[i % N_BATCHES]
            *state[:], loss = step(*state, xb, yb)  # params, m, v, t; the loss
            return loss.block_until_ready()

        return run, B

    def jax_infer(self, weights: dict):
        import jax
        import jax.numpy as jnp

        params, forward = self._jax_forward(weights)
        X = jnp.asarray(self.data()[0][: self.infer_batch])
        predict = jax.jit(forward)

        def run(i):
            return predict(params, X).block_until_ready()

        return run, X.shape[0]


W1 = MLPWorkload(
    "W1", "W1 digits-mlp", (64, 32, 10), "sigmoid", "sgd", 0.1, 32, curve_steps=200
)
W2 = MLPWorkload(
    "W2",
    "W2 mnist-mlp",
    (784, 256, 256, 10),
    "relu",
    "adam",
    1e-3,
    128,
    infer_batch=1024,
    curve_steps=50,
)

WORKLOADS = {"W1": W1, "W2": W2}
