"""The dashboard's web app: Starlette routes over read-only run stores.

Routes (all GET)::

    /                              the page (static/index.html)
    /static/<file>                 its script, styles and the vendored uPlot
    /api/runs                      every run: name, status, times, last metrics
    /api/runs/<name>               meta, epochs, batch losses (at most 5,000)
    /api/runs/<name>/stats         per-layer statistics over time
    /api/runs/<name>/network       the latest snapshot's dense weights
    /api/runs/<name>/confusion     the latest confusion matrix
    /api/runs/<name>/regions       2-D inputs: the latest snapshot's decision regions
    /api/runs/<name>/trace?sample=i  one logged sample through the latest snapshot
    /api/runs/<name>/features?sample=i&layer=k&channel=c&row=r&col=j
                                   Conv2D models: feature maps of a logged sample,
                                   receptive field of one feature-map unit
    /api/runs/<name>/events        server-sent events: "update" when it grows

Safety: a request whose Host header is not one of the served names gets 403
(DNS rebinding); a run name must match ``[A-Za-z0-9][A-Za-z0-9._-]*`` and name
a ``.sqlite`` file directly inside the log folder; stores are opened with
``mode=ro``; a store that is not a glassnet run gives a JSON error the page
shows. Nothing from a run is executed: snapshots are read by
:func:`glassnet.io.read`, which treats the architecture as data.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import sqlite3

import numpy as np

from ..errors import GlassnetError
from ..train.runlog import FORMAT, NAME, connect_readonly

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_POINTS = 5000
MAX_UNITS = 300  # the network diagram: dense nets up to this many units
MAX_MAPS = 64  # feature maps sent per conv layer
FIELD_SEARCH = {"steps": 150, "restarts": 4}  # receptive fields by gradient ascent


class StoreError(Exception):
    """A run store that cannot be read; its message is shown in the page."""


class BadRequest(Exception):
    """A query the dashboard cannot answer (400)."""


def _need_starlette():
    try:
        import starlette  # noqa: F401
    except ImportError:
        raise ImportError(
            "the dashboard needs Starlette and uvicorn: "
            "pip install 'glassnet[dashboard]'"
        ) from None


def _finite(x):
    return x if isinstance(x, (int, str)) or x is None or math.isfinite(x) else None


class Runs:
    """The run stores of one folder, read-only."""

    def __init__(self, folder):
        self.folder = os.path.abspath(os.fspath(folder))

    def names(self) -> list:
        try:
            files = sorted(os.listdir(self.folder))
        except OSError:
            return []
        return [f[:-7] for f in files if f.endswith(".sqlite") and NAME.match(f[:-7])]

    def path(self, name: str) -> str:
        """The store of run ``name``; KeyError if there is none (or the name is bad)."""
        if not isinstance(name, str) or not NAME.match(name):
            raise KeyError(name)
        path = os.path.join(self.folder, name + ".sqlite")
        if os.path.dirname(os.path.realpath(path)) != os.path.realpath(
            self.folder
        ) or not os.path.isfile(path):
            raise KeyError(name)
        return path

    def query(self, name, sql, args=()):
        try:
            db = connect_readonly(self.path(name))
        except sqlite3.Error as e:
            raise StoreError(f"run {name!r}: cannot open its store ({e}).") from None
        try:
            meta = dict(db.execute("SELECT key, value FROM meta"))
            if meta.get("format") != FORMAT:
                raise StoreError(
                    f"run {name!r}: not a glassnet run store (format "
                    f"{meta.get('format')!r}, expected {FORMAT!r})."
                )
            return meta, db.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise StoreError(
                f"run {name!r}: its store cannot be read ({e}); it is "
                "corrupt or not a glassnet run store."
            ) from None
        finally:
            db.close()

    def summary(self, name) -> dict:
        meta, epochs = self.query(
            name,
            "SELECT epoch, step, metrics, lr, seconds, time FROM epochs ORDER BY epoch",
        )
        _, steps = self.query(name, "SELECT step, loss FROM steps ORDER BY step")
        stride = max(1, math.ceil(len(steps) / MAX_POINTS))
        steps = steps[::stride]
        return {
            "name": name,
            "status": meta.get("status"),
            "started": _float(meta.get("started")),
            "finished": _float(meta.get("finished")),
            "error": meta.get("error"),
            "config": _json(meta.get("config")),
            "model": meta.get("model"),
            "epochs": [
                {"epoch": e, "step": s, "metrics": _json(m), "lr": lr, "seconds": sec}
                for e, s, m, lr, sec, _ in epochs
            ],
            "steps": {
                "step": [s for s, _ in steps],
                "loss": [_finite(v) for _, v in steps],
                "stride": stride,
            },
        }

    def listing(self) -> list:
        out = []
        for name in self.names():
            try:
                meta, last = self.query(
                    name,
                    "SELECT epoch, metrics FROM epochs ORDER BY epoch DESC LIMIT 1",
                )
                out.append(
                    {
                        "name": name,
                        "status": meta.get("status"),
                        "started": _float(meta.get("started")),
                        "finished": _float(meta.get("finished")),
                        "epochs": last[0][0] + 1 if last else 0,
                        "metrics": _json(last[0][1]) if last else {},
                    }
                )
            except StoreError as e:
                out.append({"name": name, "error": str(e)})
        return out

    def stats(self, name) -> dict:
        _, rows = self.query(
            name,
            "SELECT step, epoch, tensor, kind, mean, std, min, "
            "max, hist, update_ratio FROM layer_stats "
            "ORDER BY step",
        )
        series = {}
        for step, epoch, tensor, kind, mean, std, lo, hi, hist, ratio in rows:
            s = series.setdefault(
                f"{kind}:{tensor}",
                {
                    "tensor": tensor,
                    "kind": kind,
                    "step": [],
                    "epoch": [],
                    "mean": [],
                    "std": [],
                    "min": [],
                    "max": [],
                    "hist": [],
                    "ratio": [],
                },
            )
            for key, value in (
                ("step", step),
                ("epoch", epoch),
                ("mean", mean),
                ("std", std),
                ("min", lo),
                ("max", hi),
                ("hist", _json(hist)),
                ("ratio", ratio),
            ):
                s[key].append(_finite(value) if not isinstance(value, list) else value)
        return {"series": list(series.values())}

    def confusion(self, name) -> dict:
        _, rows = self.query(
            name, "SELECT epoch, matrix FROM confusion ORDER BY epoch DESC LIMIT 1"
        )
        return {"epoch": rows[0][0], "matrix": _json(rows[0][1])} if rows else {}

    def snapshot(self, name):
        """(meta, epoch, model) of the latest snapshot, or (meta, None, None)."""
        from ..io.model import read

        meta, rows = self.query(
            name, "SELECT epoch, file FROM snapshots ORDER BY epoch DESC LIMIT 1"
        )
        if not rows:
            return meta, None, None
        epoch, file = rows[0]
        folder = os.path.join(self.folder, name + ".snapshots")
        if not isinstance(file, str) or not NAME.match(file):
            raise StoreError(f"run {name!r}: snapshot name {file!r} is not allowed.")
        try:
            return meta, epoch, read(os.path.join(folder, file)).model
        except (GlassnetError, OSError) as e:  # shown in the page
            raise StoreError(
                f"run {name!r}: snapshot {file} cannot be read ({e})."
            ) from None

    def regions(self, name, size: int = 60) -> dict:
        """Decision regions of the latest snapshot over the logged 2-D points:
        the predicted class and its probability on a size x size grid."""
        from ..metrics import to_labels
        from ..train.loop import predict

        meta, epoch, model = self.snapshot(name)
        points = _json(meta.get("points2d"))
        if model is None or not isinstance(points, dict):
            return {}
        try:
            X = np.asarray(points["x"], dtype=np.float64).reshape(-1, 2)
            labels = np.asarray(points["y"], dtype=np.int64).reshape(-1)
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"run {name!r}: its 2-D points are malformed.") from None
        lo, hi = X.min(0), X.max(0)
        pad = 0.1 * np.maximum(hi - lo, 1e-9)
        lo, hi = lo - pad, hi + pad
        gx, gy = np.linspace(lo[0], hi[0], size), np.linspace(hi[1], lo[1], size)
        grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
        try:
            out = predict(model, grid)
        except GlassnetError as e:
            raise StoreError(
                f"run {name!r}: its snapshot cannot be run on 2-D points ({e})."
            ) from None
        if out.ndim != 2:
            return {}
        if out.shape[1] == 1:
            p1 = out[:, 0]
            if p1.min() < 0 or p1.max() > 1:
                from ..kernels import sigmoid  # the one sigmoid formula

                p1 = sigmoid(np.ascontiguousarray(p1))
            confidence = np.maximum(p1, 1 - p1)
        else:
            z = out - out.max(1, keepdims=True)
            e = np.exp(z)
            confidence = (e / e.sum(1, keepdims=True)).max(1)
        return {
            "epoch": epoch,
            "size": size,
            "lo": lo.tolist(),
            "hi": hi.tolist(),
            "classes": to_labels(out).astype(int).tolist(),
            "confidence": np.round(confidence, 3).tolist(),
            "points": X.tolist(),
            "labels": labels.tolist(),
        }

    def trace(self, name, query) -> dict:
        """The latest snapshot's trace of logged validation sample ``?sample=i``:
        every layer's output and d(loss)/d(output), and an LSTM's gates."""
        from ..inspect.trace import trace
        from ..train.runlog import training_here

        asked = {"sample": _whole(query, "sample")}
        meta, epoch, model = self.snapshot(name)
        samples = _json(meta.get("samples"))
        if model is None or not isinstance(samples, dict):
            return {}
        if training_here():
            # trace() watches every layer call in the process, training's too
            return {"note": "the trace is shown once training in this process ends"}
        try:
            X, y = np.asarray(samples["x"]), np.asarray(samples["y"])
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"run {name!r}: its samples are malformed.") from None
        index = _bounded(asked, "sample", len(X), 0)
        try:
            t = trace(model, X[index], target=y[index])
        except GlassnetError as e:
            raise StoreError(
                f"run {name!r}: its snapshot cannot trace sample {index} ({e})."
            ) from None
        return {
            "epoch": epoch,
            "sample": index,
            "count": len(X),
            "target": y[index].tolist(),
            "output": _values(t.output),
            "loss": t.loss,
            "layers": [
                {
                    "name": r.name,
                    "kind": r.kind,
                    "shape": list(r.output.shape),
                    "output": _values(r.output),
                    "grad": _values(r.output_grad),
                    "gates": None
                    if r.gates is None
                    else {
                        k: [_values(row) for row in np.asarray(v)[:64, :64]]
                        for k, v in r.gates.items()
                    },
                }
                for r in t.layers
            ],
        }

    def features(self, name, query) -> dict:
        """Conv2D models: logged validation sample ``?sample=i`` through the latest
        snapshot -- each conv layer's feature maps, after its activation -- and
        the receptive field of unit (``channel``, ``row``, ``col``) of conv layer
        ``layer`` (:func:`glassnet.inspect.receptive_field` in the box of the
        logged samples' values: the input that drives it most, and the inputs
        it sees, those its drive does not ignore)."""
        from ..inspect.receptive import find_layer, neuron_layers, receptive_field
        from ..inspect.summary import flat_layers
        from ..nn import Conv2D
        from ..tensor import Tensor, no_grad
        from ..train.runlog import training_here

        asked = {
            k: _whole(query, k) for k in ("sample", "layer", "channel", "row", "col")
        }
        meta, epoch, model = self.snapshot(name)
        samples = _json(meta.get("samples"))
        if model is None or not isinstance(samples, dict):
            return {}
        picks = neuron_layers(model, ("Conv2D",))
        if not picks:
            return {
                "epoch": epoch,
                "applies": False,
                "note": "no Conv2D layers: feature maps and "
                "receptive fields are drawn for image models",
            }
        if training_here():  # grad mode is the process's, training's too
            return {"note": "feature maps are shown once training in this process ends"}
        try:
            X = np.asarray(samples["x"], dtype=model.dtype)
            y = np.asarray(samples["y"])
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"run {name!r}: its samples are malformed.") from None
        index = _bounded(asked, "sample", len(X), 0)
        k = _bounded(asked, "layer", len(picks), 0)
        flat = [m for _, m in flat_layers(model)]
        maps = []
        try:
            with no_grad():
                x = Tensor(X[index][None])
                for i, layer in enumerate(flat[: picks[-1] + 1]):
                    x = layer(x)
                    if i in picks:
                        maps.append(x.data[0])
        except GlassnetError as e:
            raise StoreError(
                f"run {name!r}: its snapshot cannot run sample {index} ({e})."
            ) from None
        channels, rows, cols = maps[k].shape
        channel = _bounded(asked, "channel", channels, 0, f" (conv layer {k})")
        row = _bounded(asked, "row", rows, rows // 2, f" (conv layer {k})")
        col = _bounded(asked, "col", cols, cols // 2, f" (conv layer {k})")
        low, high = float(X.min()), float(X.max())
        if not low < high:
            low, high = low - 1, high + 1
        try:
            field = receptive_field(
                model,
                picks[k],
                (channel, row, col),
                input_shape=X.shape[1:],
                low=low,
                high=high,
                **FIELD_SEARCH,
            )
        except GlassnetError as e:
            raise StoreError(
                f"run {name!r}: no receptive field for that unit ({e})."
            ) from None
        seen = np.argwhere(_image(~field.dont_care).any(0))
        return {
            "epoch": epoch,
            "sample": index,
            "count": len(X),
            "target": y[index].tolist(),
            "input": _picture(X[index]),
            "layers": [
                {
                    "name": find_layer(model, p)[1],
                    "kind": "Conv2D"
                    if isinstance(flat[p], Conv2D)
                    else f"Conv2D + {type(flat[p]).__name__}",
                    "channels": m.shape[0],
                    "shape": list(m.shape[1:]),
                    "maps": _values(m[:MAX_MAPS], limit=m[:MAX_MAPS].size),
                }
                for p, m in zip(picks, maps)
            ],
            "unit": {
                "layer": k,
                "channel": channel,
                "row": row,
                "col": col,
                "value": _finite(float(maps[k][channel, row, col])),
            },
            "field": {
                "pattern": _picture(field.pattern),
                "dont_care": _image(field.dont_care).ravel().tolist(),
                "method": field.method,
                "value": _finite(field.value),
                "drive": _finite(field.drive),
                "saturated": field.saturated,
                "low": low,
                "high": high,
                "region": None
                if not len(seen)
                else [
                    int(seen[:, 0].min()),
                    int(seen[:, 0].max()),
                    int(seen[:, 1].min()),
                    int(seen[:, 1].max()),
                ],
            },
        }

    def network(self, name) -> dict:
        from ..nn import Dense

        _, epoch, model = self.snapshot(name)
        if model is None:
            return {}
        layers = [
            m for m in ([model] if isinstance(model, Dense) else model.children())
        ]
        dense = [m for m in layers if isinstance(m, Dense)]
        if not dense:
            return {"epoch": epoch, "note": "no dense layers to draw"}
        units = dense[0].weight.shape[0] + sum(d.weight.shape[1] for d in dense)
        if units > MAX_UNITS:
            return {
                "epoch": epoch,
                "note": f"{units} units: too many to draw (up to {MAX_UNITS})",
            }
        return {
            "epoch": epoch,
            "layers": [
                {
                    "weight": d.weight.data.tolist(),
                    "bias": None if d.bias is None else d.bias.data.tolist(),
                }
                for d in dense
            ],
        }

    def version(self, name) -> list:
        meta, rows = self.query(
            name,
            "SELECT (SELECT COUNT(*) FROM steps), "
            "(SELECT COUNT(*) FROM epochs), "
            "(SELECT COUNT(*) FROM layer_stats)",
        )
        return [*rows[0], meta.get("status")]


def _values(a, limit: int = 512):
    """Up to ``limit`` values of ``a``, flattened, as JSON numbers (None for NaN)."""
    if a is None:
        return None
    flat = np.asarray(a, dtype=np.float64).ravel()[:limit]
    return [v if math.isfinite(v) else None for v in flat.tolist()]


def _whole(query, key):
    """Query parameter ``key`` as an int, or None when absent; BadRequest if not
    a whole number."""
    text = query.get(key)
    if text is None or text == "":
        return None
    if not re.fullmatch(r"-?[0-9]{1,12}", text):
        raise BadRequest(f"{key} must be a whole number; got {text[:20]!r}")
    return int(text)


def _bounded(asked, key, size, default, where=""):
    """``asked[key]`` (or ``default``), checked to lie in [0, size)."""
    value = default if asked[key] is None else asked[key]
    if not 0 <= value < size:
        raise BadRequest(f"{key} must be in [0, {size}){where}; got {value}")
    return value


def _image(a):
    """One sample as (channels, height, width): (h, w) gets one channel and
    anything else is one row."""
    a = np.asarray(a)
    return a if a.ndim == 3 else a[None] if a.ndim == 2 else a.reshape(1, 1, -1)


def _picture(a) -> dict:
    """One sample as {"shape": [channels, height, width], "values": flat}."""
    a = _image(a)
    return {"shape": list(a.shape), "values": _values(a, limit=a.size)}


def _json(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _host_name(header: str) -> str:
    """The host part of a Host header: 'localhost:6006' → 'localhost'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def create_app(
    log_dir, host: str = "127.0.0.1", poll_seconds: float = 1.0, stopping=None
):
    """The Starlette app serving the run stores in ``log_dir``.

    ``host`` is the address it is served on: with the loopback names
    (localhost, 127.0.0.1, [::1]) it makes the allowed Host headers.
    ``stopping()``, when given, says the server is shutting down: event
    streams then end, so that Ctrl-C is not kept waiting by open pages.
    """
    _need_starlette()
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import (
        FileResponse,
        JSONResponse,
        PlainTextResponse,
        StreamingResponse,
    )
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    runs = Runs(log_dir)
    allowed = {"localhost", "127.0.0.1", "[::1]"}
    allowed.add(f"[{host}]" if ":" in host and not host.startswith("[") else host)

    class HostCheck:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                headers = dict(scope["headers"])
                host_header = headers.get(b"host", b"").decode("latin-1")
                if _host_name(host_header) not in allowed:
                    response = PlainTextResponse(
                        "403: this dashboard answers only to "
                        f"{', '.join(sorted(allowed))} (Host was {host_header!r}).",
                        status_code=403,
                    )
                    await response(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    def answer(fn, query=False):
        async def endpoint(request):
            name = request.path_params.get("name")
            args = (name, request.query_params) if query else (name,)
            try:
                if name is not None:
                    runs.path(name)
                return JSONResponse(await asyncio.to_thread(fn, *args))
            except BadRequest as e:
                return JSONResponse({"error": str(e)}, 400)
            except KeyError:
                return JSONResponse({"error": f"no run called {name!r} here"}, 404)
            except StoreError as e:
                return JSONResponse({"error": str(e)}, 422)

        return endpoint

    async def index(request):
        return FileResponse(os.path.join(STATIC, "index.html"))

    async def events(request):
        name = request.path_params["name"]
        try:
            runs.path(name)
        except KeyError:
            return JSONResponse({"error": f"no run called {name!r} here"}, 404)

        async def stream():
            last = None
            yield "retry: 2000\n\n"
            while not (await request.is_disconnected() or stopping and stopping()):
                try:
                    now = await asyncio.to_thread(runs.version, name)
                except (StoreError, KeyError) as e:
                    yield f"event: failed\ndata: {json.dumps(str(e))}\n\n"
                    return
                if now != last:
                    last = now
                    yield f"event: update\ndata: {json.dumps(now)}\n\n"
                await asyncio.sleep(poll_seconds)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    routes = [
        Route("/", index),
        Route("/api/runs", answer(lambda _: {"runs": runs.listing()})),
        Route("/api/runs/{name}", answer(runs.summary)),
        Route("/api/runs/{name}/stats", answer(runs.stats)),
        Route("/api/runs/{name}/network", answer(runs.network)),
        Route("/api/runs/{name}/confusion", answer(runs.confusion)),
        Route("/api/runs/{name}/regions", answer(runs.regions)),
        Route("/api/runs/{name}/trace", answer(runs.trace, query=True)),
        Route("/api/runs/{name}/features", answer(runs.features, query=True)),
        Route("/api/runs/{name}/events", events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(HostCheck)])


def _check_host(host: str) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"WARNING: the dashboard is served on {host}, not only on this machine: "
            "anyone who can reach this address can read your runs.",
            flush=True,
        )


def serve(log_dir, port: int = 6006, host: str = "127.0.0.1") -> None:
    """Serve the dashboard until Ctrl-C (``glassnet dashboard``)."""
    _need_starlette()

    _check_host(host)
    server = _server(log_dir, host, port)
    print(
        f"glassnet dashboard: {url(host, port)}  (runs in {os.path.abspath(log_dir)}; "
        "Ctrl-C to stop)",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn passes Ctrl-C on once it has shut down
        pass


def _server(log_dir, host, port):
    """A uvicorn server for the app; open event streams end when it stops."""
    import uvicorn

    holder = []
    app = create_app(log_dir, host, stopping=lambda: holder[0].should_exit)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3
    )
    holder.append(uvicorn.Server(config))
    return holder[0]


def url(host: str, port: int) -> str:
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def start_in_background(log_dir, port: int = 6006, host: str = "127.0.0.1"):
    """Start the server in a daemon thread; return (server, url) once it listens."""
    _need_starlette()
    import threading
    import time

    _check_host(host)
    server = _server(log_dir, host, port)
    thread = threading.Thread(target=server.run, name="glassnet-dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise OSError(
            f"the dashboard could not listen on {host}:{port} "
            "(is the port in use? pick another with --port)"
        )
    sockets = [s for srv in server.servers for s in srv.sockets]
    port = sockets[0].getsockname()[1] if sockets else port
    return server, url(host, port)
