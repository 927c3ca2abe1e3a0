"""Beyond chance: the one test both challengers of the recipe's fine-tune must pass.

A challenger (the linear probe, the simple non-neural model) replaces the fine-tune only when it is
right on more of the validation examples where the two disagree than a fair coin would make it,
by an exact one-sided McNemar (sign) test at ALPHA. On a handful of validation examples no
challenger can win by luck: with 3 disagreements even 3 to 0 gives p = 0.125. Standard library only.
"""
from __future__ import annotations

import math

ALPHA = 0.05


def mcnemar_p(wins: int, losses: int) -> float:
    """P(at least `wins` of the wins + losses disagreements go the challenger's way | a fair coin)."""
    n = wins + losses
    if n == 0:
        return 1.0
    return float(sum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n)


def beyond_chance(wins: int, losses: int) -> bool:
    """True when the challenger's wins over the disagreements are beyond chance (p < ALPHA)."""
    return wins > losses and mcnemar_p(wins, losses) < ALPHA
