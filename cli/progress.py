"""Progress on stderr: a bar or log lines while a fit in memory runs, a line per pass of a fit by chunks, and the
first Ctrl-C of a fit by chunks, which stops it at the end of a chunk."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

from engine.config import FitConfig
from engine.history import History
from engine.inference.fitting import fit
from engine.runtime.limits import fit_bytes
from engine.snapshot import CancelToken

LOG_EVERY_S = 5.0  # stderr not a terminal (a log, a pipe, CI): a progress line this often, none for a shorter fit


class Progress:
    """Progress on stderr: on a terminal a one-line bar, drawn at most 10 times a second; elsewhere (a log file, a
    pipe) a plain line every LOG_EVERY_S, with the time that the rest of max_iter would take at the pace so far (a
    long fit must not look hung: 100,000 restarts once ran two minutes with nothing said)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.last = max(total, 1), 0.0
        self.enabled = enabled and sys.stderr.isatty()  # the bar
        self.lines = enabled and not self.enabled
        self.logged = 0  # LOG_EVERY_S intervals already reported by a line

    def update(self, snap) -> None:
        now = time.perf_counter()
        if self.lines and snap.elapsed >= LOG_EVERY_S * (self.logged + 1):
            self.logged = int(snap.elapsed // LOG_EVERY_S)
            left = snap.elapsed / max(snap.iteration, 1) * (self.total - snap.iteration)
            print(
                f"iteration {snap.iteration}/{self.total}: mean log-lik {snap.mean_log_likelihood:.6f}, "
                f"{snap.elapsed:.0f} s so far; at most {left:.0f} s more (max-iter {self.total}) at this pace",
                file=sys.stderr,
                flush=True,
            )
            return
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        frac = min(snap.iteration / self.total, 1.0)
        bar = "#" * int(30 * frac)
        sys.stderr.write(
            f"\r[{bar:<30}] iter {snap.iteration}/{self.total}  "
            f"mean log-lik {snap.mean_log_likelihood:.6f}  {snap.elapsed:.1f}s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\n")


def run_fit(points, cfg: FitConfig, show_progress: bool, per_batch: int | None = None, weights=None, missing=None):
    """Run the fit with a progress bar, its restarts per_batch at a time (None: all at once), the points weighted by
    weights (N,) if given; (last snapshot, its bounded history). With batches, the expected time is said once the
    first batch has run."""
    progress = Progress(cfg.max_iter, show_progress)
    history = History()
    last = None
    batched = per_batch is not None and per_batch < cfg.restarts
    # the limit that makes fit run per_batch restarts at a time (the largest count within it)
    limit = fit_bytes(len(points), points.shape[1], cfg.n_components, per_batch, cfg.memory_factor) if batched else None
    told = not (batched and show_progress)
    try:
        for last in fit(points, cfg, memory_limit=limit, weights=weights, missing=missing):
            history.append(last)
            progress.update(last)
            if not told and (last.restarts.n_iter[per_batch:] >= 0).any():  # the second batch has begun
                told = True
                say_expected_time(last.elapsed, per_batch, cfg.restarts)
    finally:
        progress.close()
    return last, history


def say_expected_time(first_batch_s: float, per_batch: int, restarts: int) -> None:
    batches = -(-restarts // per_batch)
    print(
        f"batch 1 of {batches:,} ({per_batch:,} restarts) took {first_batch_s:.1f} s: about "
        f"{first_batch_s * batches:.0f} s for all {restarts:,} restarts",
        file=sys.stderr,
        flush=True,
    )


def report_passes(snapshots, args, n: int):
    """The snapshots, a line on stderr for each pass (unless --quiet)."""
    previous = 0.0
    for last in snapshots:
        seconds = last.elapsed - previous
        previous = last.elapsed
        if not args.quiet:  # the first pass also surveyed the data and made the start: its speed says nothing
            speed = f", {n / seconds:,.0f} points/s" if last.iteration and seconds > 0 else " (after the survey)"
            print(f"pass {last.iteration + 1}: mean log-lik {last.mean_log_likelihood:.6f}{speed}", file=sys.stderr)
        yield last


@contextlib.contextmanager
def stop_at_pass_end(cancel: CancelToken):
    """The first Ctrl-C asks the fit to stop after the chunk it is reading (a pass can take minutes; the chunk's
    sums are not left half-added); the second interrupts at once. Nothing is written either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum, frame) -> None:
        cancel.cancel()
        print("\nstopping after this chunk (Ctrl-C again to stop now)…", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def note(text: str) -> None:
    """A line of progress on stderr (a wait the user should know about)."""
    print(text, file=sys.stderr, flush=True)
