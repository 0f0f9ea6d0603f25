"""What the plot draws, computed off the GUI thread (no Qt here): the data scene and one frame per snapshot.

A `DataScene` is built once per data set: the points shown as a scatter (all of them up to SCATTER_LIMIT,
else a random sample drawn over a density image), the plot's bounds and the density image. A `Frame` is
built per emitted snapshot: each shown point's most likely component, each component's 1/2/3-sigma
ellipses and the mixture density's contour lines, as NaN-separated polylines ready for one setData each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCATTER_LIMIT = 50_000  # up to this many points are drawn one by one
SAMPLE_SIZE = 20_000  # beyond it: a density image and this many sampled points on top
IMAGE_BINS = 400  # density image resolution (per axis)
GRID = 160  # contour grid resolution (per axis)
RING_POINTS = 72  # points per ellipse ring
SIGMAS = (1.0, 2.0, 3.0)
# Contours enclose these shares of the fitted mixture's probability mass (highest-density regions):
# a level is the density that the given share of the shown points lies above.
CONTOUR_MASS = (0.25, 0.5, 0.75, 0.9, 0.99)


@dataclass(frozen=True)
class DataScene:
    """One data set as the plot shows it.

    points (N, 2) all the data; shown (S,) indices of the points drawn one by one; bounds (xmin, xmax,
    ymin, ymax) padded; image (IMAGE_BINS, IMAGE_BINS) float32 log-density of the data in [0, 1], or None
    when every point is drawn; shown_points (S, 2).
    """

    points: np.ndarray
    shown: np.ndarray
    bounds: tuple[float, float, float, float]
    image: np.ndarray | None
    shown_points: np.ndarray  # points[shown] (S, 2), gathered once
    variance: float = 1.0  # the data's smallest per-axis variance (the scale for "collapsing")

    @property
    def sampled(self) -> bool:
        return self.image is not None


def build_scene(points: np.ndarray, seed: int = 0) -> DataScene:
    """The scene for points (N, 2): O(N) work, so large data is built in a background thread."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    n = len(points)
    bounds = padded_bounds(points)
    variance = float(points.var(axis=0).min()) if n > 1 else 1.0
    variance = variance if variance > 0 else 1.0
    if n <= SCATTER_LIMIT:
        return DataScene(points, np.arange(n), bounds, None, points, variance)
    shown = np.sort(np.random.default_rng(seed).choice(n, SAMPLE_SIZE, replace=False))
    return DataScene(points, shown, bounds, density_image(points, bounds), points[shown], variance)


def padded_bounds(points: np.ndarray, pad: float = 0.08) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the points with a margin; never of zero width."""
    if len(points) == 0:
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.maximum(hi - lo, 1e-9 * np.maximum(np.abs(lo), 1.0))
    span = np.where(span > 0, span, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def density_image(points: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Log point counts on an IMAGE_BINS² grid over bounds, scaled to [0, 1] (x along axis 0)."""
    counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=IMAGE_BINS, range=[bounds[:2], bounds[2:]])
    img = np.log1p(counts)
    top = img.max()
    return (img / top if top > 0 else img).astype(np.float32)


@dataclass(frozen=True)
class ComponentState:
    """One component's health: weight, effective number of points, covariance eigenvalues, and a verdict."""

    weight: float
    n_effective: float
    min_eigenvalue: float
    condition: float
    state: str  # "ok", "few points", "collapsing", "re-seeded" or "empty"

    @property
    def warning(self) -> bool:
        return self.state != "ok"


# A component is "collapsing" when its covariance's smallest eigenvalue falls below this share of the data's
# smallest per-axis variance, or its condition number passes CONDITION_LIMIT; it has "few points" below
# MIN_POINTS effective points (a 2-D Gaussian needs 3 to have a full covariance).
COLLAPSE_SHARE = 1e-3
CONDITION_LIMIT = 1e4
MIN_POINTS = 3.0


def component_states(snapshot, data_variance: float) -> tuple[ComponentState, ...]:
    """Each component's ComponentState; data_variance: the data's smallest per-axis variance."""
    eig = np.linalg.eigvalsh(snapshot.covariances)  # (K, 2) ascending
    out = []
    for k, w in enumerate(snapshot.weights):
        lo, hi = float(eig[k, 0]), float(eig[k, -1])
        cond = hi / lo if lo > 0 else float("inf")
        n_eff = float(w) * snapshot.n_samples
        if k in snapshot.empty:
            state = "empty"
        elif k in snapshot.reseeded:
            state = "re-seeded"
        elif lo < COLLAPSE_SHARE * data_variance or cond > CONDITION_LIMIT:
            state = "collapsing"
        elif n_eff < MIN_POINTS:
            state = "few points"
        else:
            state = "ok"
        out.append(ComponentState(float(w), n_eff, lo, cond, state))
    return tuple(out)


@dataclass(frozen=True)
class Frame:
    """What one snapshot looks like.

    labels (S,) most likely component of each shown point; ellipses: K arrays (M, 2) holding the 1, 2
    and 3-sigma rings separated by NaN rows; contours (L, 2) every contour line, NaN-separated; levels:
    the contour densities; history (T, 2): iteration and mean log-likelihood of every iteration so far;
    entries: the fit's bounded history (engine HistoryEntry, for replay); trajectory (T', K, 2): the shown
    restart's means over the kept iterations up to this one; states: each component's ComponentState.
    """

    snapshot: object
    labels: np.ndarray
    ellipses: tuple[np.ndarray, ...]
    contours: np.ndarray
    levels: np.ndarray
    history: np.ndarray
    entries: tuple = ()
    trajectory: np.ndarray | None = None
    states: tuple[ComponentState, ...] = ()
    running_seconds: float | None = None  # the fit's time less the time it sat paused (None: not a live fit)
    replay: bool = False  # a kept iteration shown again (the slider, a restart), not the fit's latest


def ellipse_rings(mean: np.ndarray, cov: np.ndarray, sigmas=SIGMAS, n: int = RING_POINTS) -> np.ndarray:
    """Rings {mean + s L u : |u| = 1} for each s in sigmas (Mahalanobis radius s), L L^T = cov.

    mean (2,), cov (2, 2) -> (len(sigmas) * (n + 1), 2) with a NaN row after each ring.
    """
    values, vectors = np.linalg.eigh(cov)
    axes = vectors * np.sqrt(np.clip(values, 0.0, None))  # columns: principal semi-axes at 1 sigma
    t = np.linspace(0.0, 2.0 * np.pi, n)
    unit = np.stack([np.cos(t), np.sin(t)])  # (2, n)
    rings = []
    for s in sigmas:
        rings.append((mean[:, None] + s * axes @ unit).T)
        rings.append(np.full((1, 2), np.nan))
    return np.concatenate(rings)


def mixture_log_density(
    points: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(log p(x) (N,), log w_k + log N(x | mu_k, Sigma_k) (N, K)) for points (N, 2), by the engine."""
    import engine

    joint = engine.log_joint(points, weights, means, covariances)
    top = joint.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(joint - top).sum(axis=1)), joint


def contour_levels(log_density_at_points: np.ndarray, mass=CONTOUR_MASS) -> np.ndarray:
    """Densities that enclose the given shares of the points (increasing, distinct)."""
    if len(log_density_at_points) == 0:
        return np.empty(0)
    q = np.quantile(log_density_at_points, 1.0 - np.asarray(mass, dtype=np.float64))
    return np.unique(np.exp(q))


def contour_lines(
    bounds: tuple[float, float, float, float],
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    levels: np.ndarray,
    grid: int = GRID,
) -> np.ndarray:
    """Every contour line of the mixture density at levels over bounds, as one NaN-separated (L, 2) array."""
    from contourpy import LineType, contour_generator

    xs = np.linspace(bounds[0], bounds[1], grid)
    ys = np.linspace(bounds[2], bounds[3], grid)
    gx, gy = np.meshgrid(xs, ys)
    log_p, _ = mixture_log_density(np.column_stack([gx.ravel(), gy.ravel()]), weights, means, covariances)
    z = np.exp(log_p).reshape(grid, grid)
    gen = contour_generator(xs, ys, z, line_type=LineType.ChunkCombinedNan)
    pieces = []
    for level in levels:
        for chunk in gen.lines(level)[0]:
            if chunk is not None and len(chunk):
                pieces += [chunk, np.full((1, 2), np.nan)]
    return np.concatenate(pieces) if pieces else np.empty((0, 2))


def build_frame(
    scene: DataScene,
    snapshot,
    history: np.ndarray,
    entries: tuple = (),
    trajectory: np.ndarray | None = None,
    light: bool = False,
) -> Frame:
    """The frame of a snapshot (weights (K,), means (K, 2), covariances (K, 2, 2) in data units).
    light: ellipses only (no point labels, no contours)."""
    w, m, c = snapshot.weights, snapshot.means, snapshot.covariances
    if light:
        ellipses = tuple(ellipse_rings(m[k], c[k]) for k in range(len(w)))
        return Frame(
            snapshot,
            np.empty(0, dtype=np.int64),
            ellipses,
            np.empty((0, 2)),
            np.empty(0),
            history,
            entries,
            trajectory,
            component_states(snapshot, scene.variance),
        )
    shown = scene.shown_points
    log_p, joint = mixture_log_density(shown, w, m, c)
    labels = joint.argmax(axis=1) if len(shown) else np.empty(0, dtype=np.int64)
    levels = contour_levels(log_p[np.isfinite(log_p)])
    contours = contour_lines(scene.bounds, w, m, c, levels)
    ellipses = tuple(ellipse_rings(m[k], c[k]) for k in range(len(w)))
    states = component_states(snapshot, scene.variance)
    return Frame(snapshot, labels, ellipses, contours, levels, history, entries, trajectory, states)


def restart_permutation(final, table, restart: int) -> np.ndarray:
    """perm (K,) putting restart's components in the order of the final fit's (stable colours)."""
    import engine

    if restart == final.restart:
        return np.arange(len(final.weights))
    return engine.match_components(final.means, final.covariances, table.means[restart], table.covariances[restart])


def snapshot_at(base, entry, restart: int | None = None, perm: np.ndarray | None = None):
    """The snapshot `base` (the fit's latest) as it was at a history entry, for the shown restart or any
    restart (its components reordered by perm). An earlier iteration's status is "running": the fit was, then."""
    from dataclasses import replace

    if restart is None or restart == entry.restart and perm is None:
        w, m, c, ll, r = entry.weights, entry.means, entry.covariances, entry.mean_log_likelihood, entry.restart
    else:
        perm = np.arange(entry.restart_weights.shape[1]) if perm is None else perm
        w, m, c = (a[restart][perm] for a in (entry.restart_weights, entry.restart_means, entry.restart_covariances))
        ll, r = float(entry.restart_mean_log_likelihood[restart]), restart
    status = base.status if is_latest(base, entry, r) else "running"
    return replace(
        base,
        iteration=entry.iteration,
        weights=w,
        means=m,
        covariances=c,
        mean_log_likelihood=ll,
        restart=r,
        status=status,
        reseeded=(),
        empty=(),
        warnings=(),
    )


def is_latest(base, entry, restart: int) -> bool:
    """Whether a history entry of restart is the snapshot base (the fit's latest) itself."""
    return entry.iteration == base.iteration and restart == base.restart


def trajectory_of(entries: tuple, upto: int, restart: int | None = None, perm: np.ndarray | None = None) -> np.ndarray:
    """Means (T, K, 2) over the kept entries with iteration <= upto, of the shown or the given restart."""
    kept = [e for e in entries if e.iteration <= upto]
    if restart is None:
        return np.stack([e.means for e in kept]) if kept else np.empty((0, 0, 2))
    perm = np.arange(kept[0].restart_means.shape[1]) if perm is None else perm
    return np.stack([e.restart_means[restart][perm] for e in kept])
