"""Operator selection: multi-armed bandits over the arms (operator x destroy rate) and the
rewards of an iteration's outcome (paper §3: new best > better than current > accepted >
rejected).

Two backends with the same policies and the same optimistic prior: :class:`NativeBandit`
(built in, optionally cost-aware) and :class:`MabwiserBandit` (the ``mabwiser`` package, whose
import pulls in scikit-learn).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Protocol

import numpy as np

BANDITS = ("epsilon_greedy", "softmax", "thompson", "random")  # random: the ablation baseline
OUTCOMES = ("best", "better", "accepted", "rejected")
DEFAULT_SCORES = (8.0, 4.0, 2.0, 1.0)


def reward(scores: tuple[float, ...], outcome: str) -> float:
    """The reward of ``outcome`` under ``scores`` (best, better, accepted, rejected)."""
    return scores[OUTCOMES.index(outcome)]


def check_scores(scores: Any) -> tuple[float, ...]:
    """The ``scores`` option: four finite numbers, as a tuple of floats."""
    wanted = "must be 4 finite numbers (best, better, accepted, rejected)"
    try:
        values = tuple(float(s) for s in scores)
    except (TypeError, ValueError):
        raise ValueError(f"{wanted}, got {scores!r}") from None
    if len(values) != 4 or not all(math.isfinite(s) for s in values):
        raise ValueError(f"{wanted}, got {values}")
    return values


class Selector(Protocol):
    def select(self) -> str: ...

    def update(self, arm: str, reward: float, seconds: float | None = None) -> None: ...


class NativeBandit:
    """The arm selector without ``mabwiser`` (whose import pulls in scikit-learn: 2-4 s, a large
    share of a short limit). Same policies and prior as :class:`MabwiserBandit`: ε-greedy and
    softmax on the mean reward per arm, Thompson sampling on Beta posteriors of "improved or not".

    Every arm is tried once, in random order, before the policy chooses (the paper's bandits
    start from one observation per arm; the optimistic prior alone let a cost-aware score lock
    onto the first cheap arms: 11 of 16 arms were never tried in a 102-iteration run).
    ``"random"`` picks uniformly (the ablation's baseline).

    ``optimistic=True`` adds one pseudo-observation per arm before any pull: a "better" reward
    (Thompson: a success, so Beta(2, 1)) or an "accepted" one (the means). ``False`` starts from
    the package's (MABWiser's) flat prior: Beta(1 + successes, 1 + failures), empty means. With
    the first round over every arm the optimistic observation only slows the learning: after
    n real pulls with s successes an arm's posterior mean is (s + 2) / (n + 3), not
    (s + 1) / (n + 2), which at the 20-60 LNS iterations of a 60 s run (16 arms) keeps failing
    arms near the others (issue 27).

    ``cost_prior`` (seconds, or None) makes it cost-aware: each arm's score (Thompson draw or mean
    reward) is multiplied by sqrt(average arm time / the arm's mean iteration time), clipped to
    [1/2, 2] (one prior observation of ``cost_prior`` seconds per arm), so the bandit leans
    toward reward per second of the wall-clock budget rather than per iteration (cf. the effort
    term in the rewards of Hendel's ALNS heuristic in SCIP, 2022) without letting an arm that
    fails fast outscore one that improves (the unclipped ratio reached 100x)."""

    def __init__(self, arms: list[str], policy: str, epsilon: float, tau: float, scores: tuple,
                 seed: int, cost_prior: float | None = None, optimistic: bool = True):
        self.arms, self.policy = list(arms), policy
        self.epsilon, self.tau, self.threshold = epsilon, tau, scores[1]
        self.rng = np.random.default_rng(seed)
        prior = scores[1] if policy == "thompson" else scores[2]
        self.sums = np.zeros(len(self.arms))
        self.counts = np.zeros(len(self.arms))
        self.success = np.zeros(len(self.arms))
        self.cost_prior = cost_prior
        self.seconds = np.full(len(self.arms), cost_prior if cost_prior is not None else 1.0)
        self.timed = np.ones(len(self.arms))
        self.index = {a: k for k, a in enumerate(self.arms)}
        for arm in self.arms if optimistic else ():
            self.update(arm, prior)
        self.untried = [self.arms[k] for k in self.rng.permutation(len(self.arms))]

    def _per_cost(self, score: np.ndarray) -> np.ndarray:
        if self.cost_prior is None:
            return score
        cost = np.maximum(self.seconds / self.timed, 1e-3)
        return score * np.clip(np.sqrt(cost.mean() / cost), 0.5, 2.0)

    def select(self) -> str:
        if self.untried:
            return self.untried[0]
        if self.policy == "random":
            return self.arms[int(self.rng.integers(len(self.arms)))]
        if self.policy == "thompson":
            draws = self.rng.beta(self.success + 1.0, self.counts - self.success + 1.0)
            return self.arms[int(np.argmax(self._per_cost(draws)))]
        means = self._per_cost(self.sums / np.maximum(self.counts, 1.0))
        if self.policy == "epsilon_greedy":
            if self.rng.random() < self.epsilon:
                return self.arms[int(self.rng.integers(len(self.arms)))]
            best = np.flatnonzero(means >= means.max() - 1e-12)
            return self.arms[int(self.rng.choice(best))]
        z = (means - means.max()) / self.tau
        prob = np.exp(z) / np.exp(z).sum()
        return self.arms[int(self.rng.choice(len(self.arms), p=prob))]

    def update(self, arm: str, reward: float, seconds: float | None = None) -> None:
        if getattr(self, "untried", None) and arm in self.untried:
            self.untried.remove(arm)
        k = self.index[arm]
        self.sums[k] += reward
        self.counts[k] += 1.0
        self.success[k] += float(reward >= self.threshold)
        if seconds is not None:
            self.seconds[k] += seconds
            self.timed[k] += 1.0


class MabwiserBandit:
    """The arm selector: a ``mabwiser`` MAB, with one optimistic prior observation per arm
    (``optimistic=True``) or fitted on the first real pull (MABWiser's own prior)."""

    def __init__(self, arms: list[str], policy: str, epsilon: float, tau: float, scores: tuple,
                 seed: int, cost_prior: float | None = None, optimistic: bool = True):
        from mabwiser.mab import MAB, LearningPolicy

        self.untried = list(np.random.default_rng(seed).permutation(list(arms)))
        if policy == "random":  # mabwiser has no uniform policy: epsilon-greedy with epsilon 1
            lp = LearningPolicy.EpsilonGreedy(epsilon=1.0)
        elif policy == "epsilon_greedy":
            lp = LearningPolicy.EpsilonGreedy(epsilon=epsilon)
        elif policy == "softmax":
            lp = LearningPolicy.Softmax(tau=tau)
        else:
            threshold = scores[1]  # Thompson sampling on a Bernoulli reward: improved or not
            lp = LearningPolicy.ThompsonSampling(binarizer=lambda arm, reward: reward >= threshold)
        self.mab = MAB(list(arms), lp, seed=int(seed))
        prior = scores[1] if policy == "thompson" else scores[2]
        self.fitted = optimistic
        if optimistic:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.mab.fit(list(arms), [prior] * len(arms))

    def select(self) -> str:
        return str(self.untried[0]) if self.untried else str(self.mab.predict())

    def update(self, arm: str, reward: float, seconds: float | None = None) -> None:
        if arm in self.untried:
            self.untried.remove(arm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (self.mab.partial_fit if self.fitted else self.mab.fit)([arm], [reward])
        self.fitted = True


#: bandit_backend -> selector class (mabwiser is never cost-aware)
BACKENDS = {"native": NativeBandit, "mabwiser": MabwiserBandit}


def make_selector(backend: str, arms: list[str], policy: str, epsilon: float, tau: float,
                  scores: tuple, seed: int, cost_prior: float | None = None,
                  optimistic: bool = True) -> Selector:
    if backend == "mabwiser":
        cost_prior = None
    return BACKENDS[backend](arms, policy, epsilon, tau, scores, seed, cost_prior, optimistic)
