"""What the plot draws, computed off the GUI thread (no Qt here): the data scene and one frame per snapshot.

A `DataScene` is built once per data set and view: the data (N, D), its 2-D view (engine.model.projection: two
columns, principal axes, separating axes; exact), the points shown as a scatter (all of them up to
SCATTER_LIMIT, else a random sample drawn over a density image), the plot's bounds and the density image.
One-dimensional data has no view: its scene is a histogram, with the points as a rug below it.

A `Frame` is built per emitted snapshot: each shown point's most likely component (in D dimensions), the
mixture projected into the view, each component's 1/2/3-sigma ellipses and the projected mixture density's
contour lines, as NaN-separated polylines ready for one setData each. In 1-D the "ellipses" are each
component's weighted density curve and the "contours" the mixture's density curve.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine import View, columns_view

from .display_map import DisplayMap, map_for
from .missing import observed_points, observed_resp, split_missing

SCATTER_LIMIT = 50_000  # up to this many points are drawn one by one
DOTS_SHOWN = 20_000  # beyond it: a density image and this many sampled points on top
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

    points (N, D) all the data (what is fitted); shown (S,) indices of the points drawn one by one; bounds
    (xmin, xmax, ymin, ymax) of the view, padded; image (IMAGE_BINS, IMAGE_BINS) float32 log-density of the
    view in [0, 1], or None when every point is drawn; shown_points (S, 2): the view of points[shown] (in 1-D:
    the values and their rug heights); view: the 2-D view (None for 1-D data); histogram (1-D data only):
    bin edges (B+1,) and densities (B,); stream: data read by chunks (gui.scene.big_data.ChunkedFile), whose points
    are a uniform sample of its rows while the image (or histogram) counts all of them.
    """

    points: np.ndarray
    shown: np.ndarray
    bounds: tuple[float, float, float, float]
    image: np.ndarray | None
    shown_points: np.ndarray  # the view of points[shown] (S, 2), projected once per data set and view
    variance: float = 1.0  # the data's smallest per-axis variance (the scale for "collapsing")
    view: View | None = None
    histogram: tuple[np.ndarray, np.ndarray] | None = None
    stream: object | None = None
    weights: np.ndarray | None = None  # (N,) the points' frequency weights (gui.scene.weights), None: unweighted
    ticks: object | None = None  # data with missing values (NaN): gui.scene.missing.MissingTicks; None: complete

    @property
    def display(self) -> DisplayMap:
        """The plot's display units for this scene (gui.scene.display_map): chosen from the view's bounds (an axis on
        which every shown point has one value: from that value)."""
        pts = self.shown_points
        flat = tuple(bool(f) for f in np.ptp(pts, axis=0) == 0) if len(pts) else (True, True)
        return map_for(self.bounds, flat)

    @property
    def sampled(self) -> bool:
        return self.image is not None or self.stream is not None

    @property
    def n_samples(self) -> int:
        """N of the data (all its rows, also when only a sample of them is in memory)."""
        return self.stream.n_samples if self.stream is not None else len(self.points)

    @property
    def n_features(self) -> int:
        return self.points.shape[1] if self.points.ndim == 2 else 2

    @property
    def one_d(self) -> bool:
        return self.view is None and self.histogram is not None

    @property
    def shown_data(self) -> np.ndarray:
        """The shown points in all D dimensions (S, D) (the same array as shown_points for the plain 2-D view)."""
        if self.view is not None and self.view.columns == (0, 1) and self.n_features == 2:
            return self.shown_points
        return self.points[self.shown]


def build_scene(
    points: np.ndarray, view: View | None = None, seed: int = 0, weights: np.ndarray | None = None
) -> DataScene:
    """The scene for points (N, D) in view (default: the first two columns; 1-D data: a histogram), with their
    frequency weights (N,) or None: O(N) work, so large data is built in a background thread."""
    scene = _build_scene(points, view, seed, weights)
    return scene if weights is None else replace(scene, weights=weights)


def _build_scene(points: np.ndarray, view: View | None, seed: int, weights: np.ndarray | None) -> DataScene:
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.ndim != 2:
        points = points.reshape(len(points), -1) if points.size else np.empty((0, 2))
    n, d = points.shape
    variance = float(points.var(axis=0).min()) if n > 1 else 1.0
    variance = variance if variance > 0 else 1.0
    rng = np.random.default_rng(seed)
    shown = np.arange(n) if n <= SCATTER_LIMIT else np.sort(rng.choice(n, DOTS_SHOWN, replace=False))
    if d == 1:
        return _histogram_scene(points, shown, variance, rng, weights)
    view = columns_view(d, 0, 1) if view is None else view
    xy = points if view.columns == (0, 1) and d == 2 else view.points(points)
    if np.isnan(points).any():  # missing values: complete points drawn, the others ticks (gui.scene.missing)
        shown, ticks = split_missing(xy, shown)
        bounds = padded_bounds(observed_points(xy))
        return DataScene(points, shown, bounds, None, xy[shown], variance, view, ticks=ticks)
    bounds = padded_bounds(xy)
    if n <= SCATTER_LIMIT:
        return DataScene(points, shown, bounds, None, xy, variance, view)
    return DataScene(points, shown, bounds, density_image(xy, bounds, weights), xy[shown], variance, view)


HISTOGRAM_BINS = (10, 120)  # the fewest and most bins of a 1-D histogram (Freedman-Diaconis in between)
RUG_SHARE = (0.02, 0.10)  # the rug lies this far below zero, as shares of the histogram's height


def _histogram_scene(points: np.ndarray, shown: np.ndarray, variance: float, rng, weights=None) -> DataScene:
    """The scene of 1-D data: a density histogram (Freedman-Diaconis bins, or sqrt(N) where that is finer: the
    curves are judged against it; weights (N,): of the weights), the shown points as a jittered rug below zero,
    bounds that hold both."""
    x = points[:, 0]
    n = len(x)
    if n == 0:
        return DataScene(points, shown, (-1.0, 1.0, -0.1, 1.0), None, np.empty((0, 2)), variance, None, None)
    lo, hi = padded_bounds(np.column_stack([x, x]))[:2]
    q75, q25 = np.percentile(x, [75, 25])
    width = 2 * (q75 - q25) / max(n, 1) ** (1 / 3)
    bins = max((hi - lo) / width if width > 0 else 0.0, np.sqrt(n))
    bins = int(np.clip(bins, *HISTOGRAM_BINS))
    density, edges = np.histogram(x, bins=bins, range=(lo, hi), density=True, weights=weights)
    top = float(density.max()) if density.size and density.max() > 0 else 1.0
    rug = -top * rng.uniform(*RUG_SHARE, size=len(shown))
    shown_points = np.column_stack([x[shown], rug])
    bounds = (lo, hi, -top * (RUG_SHARE[1] + 0.04), top * 1.25)
    return DataScene(points, shown, bounds, None, shown_points, variance, None, (edges, density))


def padded_bounds(points: np.ndarray, pad: float = 0.08) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) of the points with a margin; never of zero width."""
    if len(points) == 0:
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = points.min(axis=0), points.max(axis=0)
    # a floor only for one repeated value, and relative to it: data near 1e-140 spans 1e-140 (an absolute floor
    # was 1e-9), and 1e8 + noise of 1e-4 spans 1e-3 (a relative floor of 1e-9 was 0.1)
    span = hi - lo
    span = np.where(span > 0, span, 1e-9 * np.abs(lo))
    span = np.where(span > 0, span, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def density_image(points: np.ndarray, bounds: tuple[float, float, float, float], weights=None) -> np.ndarray:
    """Log point counts (weights (N,): the sums of the points' weights) on an IMAGE_BINS² grid over bounds, scaled
    to [0, 1] (x along axis 0)."""
    from engine import bin_counts

    if weights is not None:  # (np.histogram2d's cells are bin_counts' own)
        x0, x1, y0, y1 = bounds
        grid = dict(bins=IMAGE_BINS, range=[[x0, x1], [y0, y1]], weights=weights)
        return image_of(np.histogram2d(points[:, 0], points[:, 1], **grid)[0])

    return image_of(bin_counts(points, bounds, IMAGE_BINS))


def image_of(counts: np.ndarray) -> np.ndarray:
    """The density image of point counts on a grid: log(1 + count) scaled to [0, 1], float32."""
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
        n_eff = float(w) * snapshot.n_counted  # sum w of a weighted fit
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
    entries: the fit's bounded history (engine HistoryEntry, for replay); trajectory (T', K, 2): one restart's
    own means over the kept iterations up to this one (the shown restart's at the fit's latest iteration, or the
    replayed restart's), in its components' order; states: each component's ComponentState.
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
    view_means: np.ndarray | None = None  # (K, 2) the means in the view (1-D: at each curve's peak)
    view_covariances: np.ndarray | None = None  # (K, 2, 2) the covariances in the view (None in 1-D)
    data_trajectory: np.ndarray | None = None  # (T', K, D) the trajectory in data units (to redraw in a new view)
    view: View | None = None  # the view it is drawn in (its scene's)


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
    """(log p(x) (N,), log w_k + log N(x | mu_k, Sigma_k) (N, K)) for points (N, D), by the engine."""
    import engine

    joint = engine.log_joint(points, weights, means, covariances)
    top = joint.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(joint - top).sum(axis=1)), joint


def contour_levels(log_density_at_points: np.ndarray, mass=CONTOUR_MASS, counts=None) -> np.ndarray:
    """Densities that enclose the given shares of the points (increasing, distinct); counts (S,): the points'
    frequency weights, whose shares are counted instead (None: each point once)."""
    if len(log_density_at_points) == 0 or (counts is not None and not counts.any()):
        return np.empty(0)
    share = 1.0 - np.asarray(mass, dtype=np.float64)
    if counts is None:
        q = np.quantile(log_density_at_points, share)
    else:  # the weighted quantile: the lowest density with at most 1 - mass of the weight below it
        q = np.quantile(log_density_at_points, share, method="inverted_cdf", weights=counts)
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


def view_mixture(scene: DataScene, means: np.ndarray, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mixture's means (..., K, D) and covariances (..., K, D, D) in the scene's view: (..., K, 2) and
    (..., K, 2, 2), exact (engine.model.projection). For 1-D scenes the means come back as (value, 0)."""
    if scene.view is None:  # 1-D: the value and 0; the variance and 0 across (flat ellipses: intervals)
        flat = np.zeros((*covariances.shape[:-2], 2, 2))
        flat[..., 0, 0] = covariances[..., 0, 0]
        return np.concatenate([means, np.zeros_like(means)], axis=-1), flat
    return scene.view.means(means), scene.view.covariances(covariances)


def build_frame(
    scene: DataScene,
    snapshot,
    history: np.ndarray,
    entries: tuple = (),
    trajectory: np.ndarray | None = None,
    light: bool = False,
) -> Frame:
    """The frame of a snapshot (weights (K,), means (K, D), covariances (K, D, D) in data units), drawn in the
    scene's view. light: ellipses only (no point labels, no contours)."""
    w, m, c = snapshot.weights, snapshot.means, snapshot.covariances
    states = component_states(snapshot, scene.variance)
    if scene.one_d:
        return _one_d_frame(scene, snapshot, history, entries, trajectory, states, light)
    vm, vc = view_mixture(scene, m, c)
    data_trajectory = trajectory
    if trajectory is not None and len(trajectory) and trajectory.shape[-1] == m.shape[-1]:
        trajectory = scene.view.means(trajectory)
    ellipses = tuple(ellipse_rings(vm[k], vc[k]) for k in range(len(w)))
    labels, contours, levels = np.empty(0, dtype=np.int64), np.empty((0, 2)), np.empty(0)
    if not light:
        shown = scene.shown_data
        # labels in all D dimensions (a point's component is the fit's, not the view's); contours of the view's
        # exact marginal density, at levels that enclose shares of the shown points in the view
        log_p, joint = mixture_log_density(scene.shown_points, w, vm, vc)
        if shown is not scene.shown_points:  # a view of more than two columns: the components' own, in D dims
            joint = mixture_log_density(shown, w, m, c)[1] if scene.ticks is None else observed_resp(shown, w, m, c)
        labels = joint.argmax(axis=1) if len(shown) else labels
        finite = np.isfinite(log_p)
        counts = None if scene.weights is None else scene.weights[scene.shown][finite]
        levels = contour_levels(log_p[finite], counts=counts)
        contours = contour_lines(scene.bounds, w, vm, vc, levels)
    return Frame(
        snapshot,
        labels,
        ellipses,
        contours,
        levels,
        history,
        entries,
        trajectory,
        states,
        view_means=vm,
        view_covariances=vc,
        data_trajectory=data_trajectory,
        view=scene.view,
    )


CURVE_POINTS = 400  # points along each 1-D density curve


def _one_d_frame(scene, snapshot, history, entries, trajectory, states, light: bool) -> Frame:
    """A 1-D frame: each component's weighted density w_k N(x | mu_k, s_k^2) and the mixture's, on a grid over
    the bounds, as (G, 2) curves; the means drawn at their curve's peak."""
    w, m, c = snapshot.weights, snapshot.means[:, 0], snapshot.covariances[:, 0, 0]
    data_trajectory = trajectory
    x = np.linspace(scene.bounds[0], scene.bounds[1], CURVE_POINTS)
    sd = np.sqrt(c)
    parts = (
        w[:, None] * np.exp(-0.5 * ((x[None, :] - m[:, None]) / sd[:, None]) ** 2) / (np.sqrt(2 * np.pi) * sd[:, None])
    )
    curves = tuple(np.column_stack([x, parts[k]]) for k in range(len(w)))
    mixture = np.column_stack([x, parts.sum(axis=0)])
    peaks = np.column_stack([m, w / (np.sqrt(2 * np.pi) * sd)])
    if trajectory is not None and len(trajectory) and trajectory.shape[-1] == 1:
        trajectory = np.concatenate([trajectory, np.zeros_like(trajectory)], axis=-1)
    labels = np.empty(0, dtype=np.int64)
    if not light and len(scene.shown):
        labels = mixture_log_density(scene.shown_data, snapshot.weights, snapshot.means, snapshot.covariances)[
            1
        ].argmax(axis=1)
    return Frame(
        snapshot,
        labels,
        curves,
        mixture,
        np.empty(0),
        history,
        entries,
        trajectory,
        states,
        view_means=peaks,
        data_trajectory=data_trajectory,
        view=scene.view,
    )


def reframe(scene: DataScene, frame: Frame) -> Frame:
    """The same frame drawn in another scene (the same data in another view)."""
    again = build_frame(
        scene,
        frame.snapshot,
        frame.history,
        frame.entries,
        frame.data_trajectory,
        light=not len(frame.labels) and len(scene.shown) > 0,
    )
    # the components' health is the view's no more than the snapshot's: a start's counts (worker.start_states,
    # from its responsibilities) stay, where build_frame would give weight x N again
    return replace(again, states=frame.states, running_seconds=frame.running_seconds, replay=frame.replay)


def own_iterations(frame: Frame) -> int | None:
    """The shown restart's own iterations once the fit is done (None while it runs: every restart that is shown
    then is still running, or the best so far)."""
    snap = frame.snapshot
    return snap.restart_iterations if snap.done else None


def fit_state_text(snap) -> str:
    """A finished fit's state as its answer (the shown restart) has it: 'converged' when that restart converged,
    though a batch (or a selection grid) ran on to max_iter for another; else the batch's status."""
    if snap.status != "cancelled" and snap.restart_converged:
        return "converged"
    return snap.status.replace("_", " ")
