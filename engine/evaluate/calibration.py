"""Are the probabilities honest? Expected calibration error, reliability bins, log-loss,
and temperature scaling fitted on validation examples.

numpy only (the GUI may draw the reliability diagram from these numbers). Binary: the
positive class's probability against how often the example was positive (what
scikit-learn's calibration_curve computes). Multi-class: the top class's probability
against how often the top class was right. Temperature scaling divides the logits by one
number T fitted to minimise validation log-loss: it changes how sure the model sounds,
never which class ranks first, so ROC curves and AUC stay as they were.
"""
from __future__ import annotations

import numpy as np

from ..bundle.decision import calibrate

N_BINS = 10
N_BOOTSTRAP = 1000
SEED = 0
T_RANGE = (0.05, 20.0)
CHUNK_CELLS = 2_000_000  # resamples x examples held at once


def chunks(n_boot: int, n: int):
    """Sizes of the bootstrap chunks whose (resamples, examples) weight matrix stays bounded."""
    step = max(1, min(n_boot, CHUNK_CELLS // max(1, n)))
    done = 0
    while done < n_boot:
        yield min(step, n_boot - done)
        done += step


def log_loss(y, probs) -> float:
    """Mean negative log-probability of the true class (probabilities clipped at 1e-15)."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1.0))))


def _confidence(y, probs, positive: int | None):
    """(predicted probability, observed 0/1 outcome) pairs the bins are made of."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if positive is not None:
        return p[:, positive], (y == positive).astype(np.float64)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def _ece(conf: np.ndarray, hit: np.ndarray, weights: np.ndarray, n_bins: int) -> np.ndarray:
    """ECE for each row of example weights (B, n): sum over bins of |mean p - observed| * share."""
    idx = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)  # equal-width bins, 1.0 in the last
    onehot = np.eye(n_bins)[idx]  # (n, bins)
    w = weights @ onehot
    ps = (weights * conf) @ onehot
    hs = (weights * hit) @ onehot
    total = weights.sum(axis=1, keepdims=True)
    return (np.abs(ps - hs) / np.where(total > 0, total, 1)).sum(axis=1) * (w.sum(axis=1) > 0)


def reliability(y, probs, positive: int | None = None, n_bins: int = N_BINS,
                n_boot: int = N_BOOTSTRAP, seed: int = SEED) -> dict:
    """{ece, ci95, bins: [{low, high, n, mean_predicted, observed}], kind} with a bootstrap interval."""
    conf, hit = _confidence(y, probs, positive)
    n = len(conf)
    if n == 0:
        return {"ece": None, "ci95": None, "bins": [], "kind": "positive" if positive is not None else "top"}
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        m = idx == b
        if m.any():
            bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(m.sum()),
                         "mean_predicted": float(conf[m].mean()), "observed": float(hit[m].mean())})
    ece = float(_ece(conf, hit, np.ones((1, n)), n_bins)[0])
    ci = None
    if n >= 2:
        rng = np.random.default_rng(seed)
        eces = [_ece(conf, hit, rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64), n_bins)
                for b in chunks(n_boot, n)]
        lo, hi = np.percentile(np.concatenate(eces), [2.5, 97.5])
        ci = [float(lo), float(hi)]
    return {"ece": ece, "ci95": ci, "bins": bins, "kind": "positive" if positive is not None else "top",
            "n_bins": n_bins}


def fit_temperature(y, probs) -> float:
    """T > 0 minimising the log-loss of calibrate(probs, T): golden-section search on log T.

    The log-loss of temperature-scaled probabilities is convex in 1/T, hence unimodal in log T.
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if len(y) < 2 or len(set(y.tolist())) < 2:
        return 1.0

    def loss(log_t: float) -> float:
        return log_loss(y, calibrate(p, float(np.exp(log_t))))

    a, b = np.log(T_RANGE[0]), np.log(T_RANGE[1])
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = loss(d)
    t = float(np.exp((a + b) / 2))
    if t < T_RANGE[0] * 1.1:
        # still sharpening at the bound: the validation examples are perfectly separated, and they
        # cannot say how sure the model should be (the loss only falls as T goes to 0); do not scale
        return 1.0
    return t if loss(np.log(t)) < loss(0.0) else 1.0  # never worse than no scaling on validation
