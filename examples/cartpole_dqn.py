"""DQN on Gymnasium's CartPole-v1: balance a pole on a cart, from a fixed seed.

A pole stands on a cart; each step the agent pushes the cart left or right
and gets +1 while the pole stays up (at most 500 steps an episode).
Gymnasium counts the task solved at a mean return of 475 over 100 episodes.
The agent is glassnet's DQN with RL Baselines3 Zoo's tuned CartPole
hyperparameters (``hyperparams/dqn.yml``): a 4-256-256-2 MLP, Adam 2.3e-3,
batch 64, buffer 100k, learning starts 1000, γ 0.99, target network copied
every 10 steps, 128 gradient steps every 256 environment steps, ε from 1 to
0.04 over the first 8000 steps (0.16 of the Zoo's 50k-step budget), Huber
loss and gradients clipped to norm 10 (Stable-Baselines3's defaults).

Every ``--check-every`` steps the greedy agent plays 10 quick episodes; when
they average ≥ 475 it plays the real test, 100 fresh episodes, and training
stops if those average ≥ 475 too. The budget is 100k environment steps.

Run (needs ``pip install 'glassnet[rl,plot]'``)::

    python examples/cartpole_dqn.py [--seed 0] [--out cartpole.png] [--profile]

BLAS threads: at these sizes (64 x 256 matrices) a second OpenBLAS thread
costs more than it saves, and on a shared machine much more (a 64x256x256
product took 0.52 ms with two threads and 0.11 ms with one on the 2-core
machine of docs/rl.md), so this script uses one unless told otherwise.
"""

from __future__ import annotations

# ruff: noqa: E402  (BLAS thread counts must be set before NumPy is imported)
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import time

import numpy as np

from glassnet import nn
from glassnet.rl import DQN, LinearDecay, make

SOLVED = 475.0
ZOO = (50_000, 500.0, "RL Zoo DQN (SB3): 500 at 50k steps")


def build_model(seed: int = 0) -> nn.Sequential:
    """The Zoo's network: 4 → 256 → 256 → 2 Q-values, ReLU between (Glorot init)."""
    return nn.Sequential(
        nn.Dense(4, 256),
        nn.ReLU(),
        nn.Dense(256, 256),
        nn.ReLU(),
        nn.Dense(256, 2),
        seed=seed,
    )


def make_agent(seed: int = 0) -> DQN:
    return DQN(
        build_model(seed),
        2,
        lr=2.3e-3,
        gamma=0.99,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1000,
        train_freq=256,
        gradient_steps=128,
        target_update_interval=10,
        exploration=LinearDecay(1.0, 0.04, 8000),
        max_grad_norm=10.0,
        seed=seed,
    )


def train(
    seed: int = 0, budget: int = 100_000, check_every: int = 2560, out=print
) -> dict:
    """Train until the 100-episode test reaches 475 or the budget is spent."""
    env, test_env = make("CartPole-v1"), make("CartPole-v1")
    agent = make_agent(seed)
    checks, tests = [], []
    state = {"next": check_every, "solved": None, "eval_seconds": 0.0}

    def check(agent) -> bool:
        if agent.steps < state["next"]:
            return False
        state["next"] += check_every
        t = time.perf_counter()
        quick = agent.evaluate(test_env, episodes=10, seed=10_000 + agent.steps).mean()
        checks.append((agent.steps, quick))
        line = f"step {agent.steps:6,d}: greedy mean of 10 episodes {quick:6.1f}"
        if quick >= SOLVED:
            full = agent.evaluate(test_env, episodes=100, seed=seed + 1_000_000)
            tests.append((agent.steps, full.mean()))
            line += f"; the 100-episode test: {full.mean():.1f}"
            if full.mean() >= SOLVED:
                state["solved"] = (agent.steps, full)
        state["eval_seconds"] += time.perf_counter() - t
        out(line)
        return state["solved"] is not None

    start, cpu = time.perf_counter(), time.process_time()
    log = agent.learn(env, budget, seed=seed, callback=check)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if state["solved"] is None:  # the budget ran out: test what there is
        full = agent.evaluate(test_env, episodes=100, seed=seed + 1_000_000)
        tests.append((agent.steps, full.mean()))
    else:
        full = state["solved"][1]
    return {
        "agent": agent,
        "log": log,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "eval_seconds": state["eval_seconds"],
        "checks": checks,
        "tests": tests,
        "solved": state["solved"] is not None,
        "steps": agent.steps,
        "test_mean": float(full.mean()),
        "test_min": float(full.min()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--check-every", type=int, default=2560)
    parser.add_argument(
        "--out", default="cartpole-dqn.png", help="the return-curve figure (PNG or SVG)"
    )
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print where the time goes (cProfile, top 25)",
    )
    args = parser.parse_args(argv)

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(train, args.seed, args.budget, args.check_every)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    else:
        result = train(args.seed, args.budget, args.check_every)
    agent, log = result["agent"], result["log"]
    train_seconds = result["seconds"] - result["eval_seconds"]
    verdict = "solved" if result["solved"] else "NOT solved"
    print(
        f"\n{verdict}: mean return {result['test_mean']:.1f} (lowest "
        f"{result['test_min']:.0f}) over 100 greedy test episodes after "
        f"{result['steps']:,} environment steps ({len(log.returns)} training "
        f"episodes, {agent.updates:,} gradient steps)"
    )
    print(
        f"wall time {result['seconds']:.1f} s: training {train_seconds:.1f} s, "
        f"evaluation {result['eval_seconds']:.1f} s "
        f"({train_seconds / result['steps'] * 1e6:.0f} µs per environment step); "
        f"CPU time of this process {result['cpu_seconds']:.1f} s"
    )
    print(f"RL Baselines3 Zoo's published DQN: {ZOO[1]:.0f} at {ZOO[0]:,} steps")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    key: result[key]
                    for key in (
                        "seconds",
                        "cpu_seconds",
                        "eval_seconds",
                        "checks",
                        "tests",
                        "solved",
                        "steps",
                        "test_mean",
                        "test_min",
                    )
                }
                | {
                    "updates": agent.updates,
                    "episodes": len(log.returns),
                    "seed": args.seed,
                },
                f,
                indent=1,
            )
    try:
        from glassnet.rl.figures import returns_curve
    except ImportError:
        return 0
    checks = np.array(result["checks"]).reshape(-1, 2).T
    returns_curve(
        log,
        window=20,
        evaluations=checks,
        references=[ZOO],
        threshold=(SOLVED, "solved: 475 (Gymnasium)"),
        path=args.out,
        title=f"CartPole-v1, glassnet DQN, seed {args.seed}: {verdict} at "
        f"{result['steps']:,} steps, {result['seconds']:.0f} s",
    )
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
