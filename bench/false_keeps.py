"""False keeps, power and cost of the keep policies, against an evaluator whose truth is known.

Each simulated run measures a baseline, then tries 100 candidates. A measurement is the tree's
true value plus Gaussian noise (sigma 1). In the "noise" stream no candidate is better than the
incumbent, so every keep is a false keep. In the "d sigma" streams one candidate in five is
better by d noise standard deviations (the rest are noise), so the share of those kept is the
policy's power. Runs use the policies themselves and the loop's rules for the incumbent's
measurements (the baseline measured ``repeats`` times, re-measurements as the policy asks, the
noise pooled over every other tree measured more than once) with no git in between.

    python bench/false_keeps.py [--runs 200] [--repeats 8] [--alpha 0.005]

Cost is evaluations per experiment, the baseline included, relative to greedy's.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from overnight import statistics
from overnight.policy import Evidence, GreedyPolicy, NoiseAwarePolicy, Policy

EXPERIMENTS = 100
REAL_SHARE = 0.2
STREAMS = {"noise": 0.0, "1 sigma": 1.0, "2 sigma": 2.0, "3 sigma": 3.0}


@dataclass
class Tally:
    experiments: int = 0
    evaluations: int = 0
    noise: int = 0
    false_keeps: int = 0
    real: int = 0
    real_kept: int = 0


def simulate(policy: Policy, effect: float, runs: int, seed: int) -> Tally:
    tally = Tally()
    for run in range(runs):
        rng = random.Random(seed * 1_000_003 + run)
        _one_run(policy, effect, rng, tally)
    return tally


def _one_run(policy: Policy, effect: float, rng: random.Random, tally: Tally) -> None:
    def measure(value: float, times: int) -> list[float]:
        tally.evaluations += times
        return [value + rng.gauss(0, 1) for _ in range(times)]

    truth = 0.0
    incumbent = measure(truth, policy.repeats)
    others: list[list[float]] = []  # other trees measured more than once: the pooled noise
    for _ in range(EXPERIMENTS):
        real = effect > 0 and rng.random() < REAL_SHARE
        candidate_truth = truth + (effect if real else 0.0)
        evidence = Evidence(statistics.spread(others))
        samples: list[float] = []
        while True:
            samples += measure(candidate_truth, 1)
            decision = policy.weigh(samples, incumbent[-policy.window :], "maximize", evidence)
            if not decision.more:
                break
        tally.experiments += 1
        tally.real += real
        tally.noise += not real
        again = policy.remeasures(len(samples), decision.keep, len(incumbent))
        if decision.keep:
            tally.real_kept += real
            tally.false_keeps += not real
            others.append(incumbent)
            truth, incumbent = candidate_truth, samples + measure(candidate_truth, again)
        else:
            if len(samples) > 1:
                others.append(samples)
            incumbent = incumbent + measure(truth, again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policies: dict[str, Policy] = {
        "greedy": GreedyPolicy(),
        "noise-aware": NoiseAwarePolicy(repeats=args.repeats, alpha=args.alpha),
    }
    print(
        f"{args.runs} runs x {EXPERIMENTS} experiments per stream; noise sigma 1; "
        f"noise-aware: repeats {args.repeats}, alpha {args.alpha:g}"
    )
    header = (
        f"{'policy':<12} {'false keeps/100':>15} {'1s kept':>8} {'2s kept':>8} {'3s kept':>8}"
        f" {'cost (noise)':>12} {'cost (2s)':>10}"
    )
    print(header)
    print("-" * len(header))
    results = {
        name: {
            stream: simulate(policy, effect, args.runs, args.seed)
            for stream, effect in STREAMS.items()
        }
        for name, policy in policies.items()
    }
    greedy = results["greedy"]
    for name, streams in results.items():
        noise = streams["noise"]
        kept = [
            100 * streams[s].real_kept / max(1, streams[s].real)
            for s in ("1 sigma", "2 sigma", "3 sigma")
        ]
        cost = [
            (streams[s].evaluations / streams[s].experiments)
            / (greedy[s].evaluations / greedy[s].experiments)
            for s in ("noise", "2 sigma")
        ]
        print(
            f"{name:<12} {100 * noise.false_keeps / noise.noise:>15.2f}"
            f" {kept[0]:>7.1f}% {kept[1]:>7.1f}% {kept[2]:>7.1f}%"
            f" {cost[0]:>11.2f}x {cost[1]:>9.2f}x"
        )


if __name__ == "__main__":
    main()
