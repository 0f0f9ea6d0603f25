"""The quadratic features F(x) = [1, x_i, x_i x_j (i <= j)] of points (N, D) -> (N, P), made whole or chunk by
chunk (LazyFeatures), the lifted layout z = [1; x^T] (1 + D, N) a fit's points may live in, and the per-thread
buffers the E-step's chunks reuse. gaussian.py multiplies them."""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np
import torch

Tensor = torch.Tensor


_LOCAL = threading.local()


def thread_buffer(name: str, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    """A buffer of this thread's, reused from chunk to chunk (its contents are garbage): allocating a few MiB
    per chunk on several threads grew the resident set by hundreds of MB in glibc's per-thread arenas. None on a
    GPU (a chunk there is 2^25 numbers: not to be held after the fit)."""
    if like.device.type != "cpu":
        return None
    key = (name, like.dtype, like.device)
    buffers = getattr(_LOCAL, "buffers", None)
    if buffers is None:
        buffers = _LOCAL.buffers = {}
    size = math.prod(shape)
    buffer = buffers.get(key)
    if buffer is None or buffer.numel() < size:
        buffer = buffers[key] = torch.empty(size, dtype=like.dtype, device=like.device)
    return buffer[:size].view(shape)


def pair_indices(d: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Row and column indices (i <= j) of the upper triangle, in the order the features use."""
    i, j = pair_tables(d)[:2]
    return i.to(device), j.to(device)


@lru_cache(maxsize=16)
def pair_tables(d: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """For D: the pair indices i, j (P2,); their places i*D + j in a flattened D x D matrix (P2,); the
    quadratic coefficients' factors (-1/2 on the diagonal, -1 off it) (P2,) float64; and for each entry
    of a D x D matrix the pair that holds it (D*D,). Built once: the parameter algebra runs every iteration
    on arrays so small that each avoided torch call counts."""
    iu = torch.triu_indices(d, d)
    i, j = iu[0], iu[1]
    factors = torch.where(i == j, -0.5, -1.0).double()
    pair_of = torch.empty(d, d, dtype=torch.long)
    pair_of[i, j] = torch.arange(len(i))
    pair_of[j, i] = torch.arange(len(i))
    return i, j, i * d + j, factors, pair_of.flatten()


def quadratic_features(x: Tensor, out: Tensor | None = None) -> Tensor:
    """F(x) (N, P) = [1, x_1..x_D, x_i x_j for i <= j] of points x (N, D), written into out (>= N, P) if given.

    Row i's products x_i * x_{i..D} are one contiguous slice of F: D broadcast products, not a gather (the
    gather x[:, i] * x[:, j] was slower and made two (N, P) temporaries; docs/performance.md, 'The E-step's layout').
    """
    n, d = x.shape
    f = torch.empty(n, n_features(d), dtype=x.dtype, device=x.device) if out is None else out[:n]
    f[:, 0] = 1.0
    f[:, 1 : 1 + d] = x
    at = 1 + d
    for i in range(d):
        torch.mul(x[:, i : i + 1], x[:, i:], out=f[:, at : at + d - i])
        at += d - i
    return f


def quadratic_features_t(xt: Tensor, out: Tensor | None = None) -> Tensor:
    """F(x)^T (P, c): the features of points laid out transposed, xt (D, c), written into out (P, >= c) if given.

    Row i's products x_i * x_{i..D} are one contiguous (D - i, c) block, each point's numbers along a row: the
    E-step's chunks are made this way (see LazyFeatures.transposed).
    """
    d, c = xt.shape
    f = torch.empty(n_features(d), c, dtype=xt.dtype, device=xt.device) if out is None else out[:, :c]
    # on the CPU through NumPy on the same memory: D calls, each cheaper than torch's (see normalise)
    mul, points, rows = (np.multiply, xt.numpy(), f.numpy()) if xt.device.type == "cpu" else (torch.mul, xt, f)
    rows[0] = 1.0
    rows[1 : 1 + d] = points
    at = 1 + d
    for i in range(d):
        mul(points[i : i + 1], points[i:], out=rows[at : at + d - i])
        at += d - i
    return f


# Above two dimensions the (N, P) features are not kept: each E-step chunk makes its own (the same numbers) in a
# buffer that stays in cache. That is about as fast as reading kept features from memory and never holds the
# (N, P) array, which is 16.5 times the data at D = 30. At D <= 2 (P <= 3D) the kept features cost no more than the
# data's own copies. The chunks' features are made points last, F^T (P, c) (LazyFeatures.transposed): each product
# then writes whole rows, which made the E-step faster (both measured: docs/performance.md, 'The E-step's layout').
# A chunk of features holds about LAZY_ELEMENTS numbers (2048 rows at least: fewer lost at D = 30).
LAZY_ELEMENTS = {"cpu": 2**19, "cuda": 2**25}


MIN_LAZY_ROWS = 2048


class LazyFeatures:
    """The quadratic features of points x (N, D), computed for a slice of points when it is asked for.

    Each thread's buffer is reused (thread_buffer): a slice is valid until the same thread asks for the next
    one. With center and scale (D,), x holds raw rows (any float dtype) and each slice is first standardised,
    (x - center) / scale in `dtype`, in a buffer of the thread's: the streaming fit's chunks are standardised on
    the E-step's threads, in cache, instead of in one more pass over the chunk.
    """

    def __init__(
        self, x: Tensor, center: Tensor | None = None, scale: Tensor | None = None, dtype: torch.dtype | None = None
    ) -> None:
        self.x, self.center, self.scale = x, center, scale
        self.dtype = dtype or x.dtype
        self.shape = (x.shape[0], n_features(x.shape[1]))
        self.device = x.device

    def rows_per_chunk(self) -> int:
        """The most points per chunk this object's buffer should hold."""
        elements = LAZY_ELEMENTS.get(self.device.type, LAZY_ELEMENTS["cuda"])
        return max(MIN_LAZY_ROWS, elements // self.shape[1])

    def points(self, rows) -> Tensor:
        """The (standardised) points of a slice or an index tensor (c, D) in `dtype`."""
        part = self.x[rows]
        if self.center is None:
            return part.to(self.dtype)
        return (part.to(self.dtype) - self.center) / self.scale

    def __getitem__(self, rows: slice) -> Tensor:
        part = self.x[rows]
        if self.center is not None:
            std = torch.sub(part, self.center, out=scratch("standardised", tuple(part.shape), self.center))
            part = std.div_(self.scale)
        return quadratic_features(part, thread_buffer("features", (part.shape[0], self.shape[1]), part))

    def transposed(self, rows: slice) -> Tensor:
        """F^T (P, c) of a slice of points, in this thread's buffer (valid until the thread's next call): the
        points are transposed (and standardised) into a (D, c) buffer, unless they are laid out transposed already,
        then their features made row by row."""
        part = self.x[rows]
        c, d = part.shape
        like = part if self.center is None else self.center
        if self.center is None and part.stride(0) == 1:  # transposed already (lifted_points): its rows as they are
            xt = part.T
        elif self.center is None:
            xt = scratch("points-t", (d, c), like)
            copy_transposed(xt, part)
        else:
            xt = scratch("points-t", (d, c), like)
            torch.sub(part.T, self.center[:, None], out=xt).div_(self.scale[:, None])
        return quadratic_features_t(xt, scratch("features-t", (self.shape[1], c), like))


# On the CPU, from D = 3 (where the E-step works chunk by chunk), a fit's standardised points live transposed in a
# (1 + D, N) buffer whose first row is ones, z = [1; x^T], and the fit's points x (N, D) are the view z[1:].T. A
# chunk of z is then a view: the whitened E-step's products read it as it is, and the features are made from its
# rows, where each chunk was first copied transposed (a measurable share of a pass: docs/performance.md, 'The
# E-step's layout'). Other code sees an ordinary (N, D) tensor.
def wants_lifted(d: int, device: torch.device) -> bool:
    """Whether a fit of D-dimensional points on this device keeps them in the lifted layout (see lifted_points)."""
    return device.type == "cpu" and n_features(d) > 3 * d


def lifted_points(n: int, d: int, dtype: torch.dtype) -> Tensor:
    """A (1 + D, N) CPU buffer z whose first row is ones; the caller writes the points transposed into z[1:] and
    works on the points (N, D) as z[1:].T (lifted_of finds z again from that view)."""
    z = torch.empty(1 + d, n, dtype=dtype)
    z[0] = 1.0
    return z


def lifted_of(x: Tensor) -> Tensor | None:
    """z = [1; x^T] (1 + D, N) on x's own memory when points x (N, D) are the view z[1:].T of a buffer laid out as
    lifted_points makes it (its first row is checked to be ones: one pass over N numbers), else None."""
    n, d = x.shape
    if x.device.type != "cpu" or n == 0 or x.stride() != (1, n) or x.storage_offset() < n:
        return None
    z = x.T.as_strided((1 + d, n), (n, 1), x.storage_offset() - n)  # raises if outside x's storage
    return z if bool((z[0] == 1).all()) else None


def n_features(d: int) -> int:
    """P, the number of quadratic features of D-dimensional points."""
    return 1 + d + d * (d + 1) // 2


def copy_transposed(out: Tensor, points: Tensor) -> None:
    """out (D, c) = points (c, D) transposed. On the CPU through NumPy: its transposing copy is faster than
    torch's (measured: docs/performance.md, 'The E-step's layout')."""
    if points.device.type == "cpu":
        np.copyto(out.numpy(), points.numpy().T)
    else:
        out.copy_(points.T)


def scratch(name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """This thread's buffer `name` (see thread_buffer), or a new tensor off the CPU."""
    buffer = thread_buffer(name, shape, like)
    return buffer if buffer is not None else torch.empty(shape, dtype=like.dtype, device=like.device)
