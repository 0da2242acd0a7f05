"""Balans: bandit-driven adaptive large-neighbourhood search over SCIP (Cai, Kadioglu, Dilkina 2024).

Algorithm (paper Alg. 1, design §4):

1. LP relaxation once (x_lp, the fractional set), then a first feasible solution from SCIP: its
   root node with the root heuristics (a share of the limit), else feasibility emphasis until the
   first solution; both count against the wall-clock limit. By default (``first_solution="scip"``)
   plain SCIP runs on the whole model and the LNS takes over when its incumbent stalls.
2. Loop: a multi-armed bandit (ε-greedy, softmax, Thompson sampling; built in, or ``mabwiser``
   with ``bandit_backend="mabwiser"``) picks a destroy operator (an arm = operator x destroy
   rate); the sub-MIP (a copy of the model with bound changes, an extra constraint or another
   objective) is repaired by SCIP, warm-started with the current solution and capped by the
   remaining time; the candidate is accepted by hill climbing or simulated annealing; the
   outcome (new best / better / accepted / rejected) is the reward. Iterations cut short by the
   global deadline are not rewarded.

One idea per module, as in the ``alns`` package:

- :mod:`.operators`: the destroy operators (one table entry each) and the portfolios;
- :mod:`.select`: the bandit arm selectors and the outcome rewards;
- :mod:`.accept`: the acceptance criteria;
- :mod:`.scip_session`: the SCIP side (model copies, LP, first solution, the main SCIP run the
  LNS interleaves with, sub-MIP solves);
- :mod:`.loop`: ``solve_balans``, the ALNS loop itself.

Operators that do not apply to the model (no binaries, no general integers, no LP solution) are
left out automatically.
"""
