"""A fit by chunks keeps its chunks in a temporary file (inference/spill.py): grouped by pattern for data with missing
values, as parsed for a CSV. Every pass read back is bit for bit a pass that reads afresh (sources.local_pass, the
reference: its own agreement with the in-memory fit is test_missing_chunks.py's and test_streaming.py's); where the
file may not be made or fails, the passes read afresh with the same sums; the file is gone when the fit ends, however
it ends."""

from __future__ import annotations

import dataclasses
import functools
import io
import tempfile

import numpy as np
import pytest
import torch
from data_sets import missing_clusters

from engine import FitConfig
from engine.errors import Cancelled
from engine.inference import spill as spill_module
from engine.inference.sources import PassPlan, PassSums, local_pass
from engine.inference.spill import SpilledPasses, file_system, spills
from engine.inference.streaming import fit_stream
from engine.io.npy import NpySource
from engine.io.stream import open_source
from engine.io.weighted import open_weighted
from engine.snapshot import CancelToken


def _source(tmp_path, weighted: bool = False):
    """1,300 points in 3-D, a fifth with missing values, as a .npy file; with weights (some 0, and a whole chunk of
    200 rows of weight 0) as a last column when weighted."""
    x = missing_clusters(1300, 3, 0.2, 3)
    if not weighted:
        np.save(tmp_path / "x.npy", x)
        return NpySource(tmp_path / "x.npy")
    w = np.random.default_rng(1).uniform(0.0, 2.0, len(x)) * (np.arange(len(x)) % 4 != 0)
    w[400:600] = 0.0
    np.save(tmp_path / "xw.npy", np.column_stack([x, w]))
    return open_weighted(str(tmp_path / "xw.npy"), None, "3")


def _plan(dtype: torch.dtype = torch.float64, weighted: bool = False, shift: float = 0.0) -> PassPlan:
    """Parameters of two restarts of three components in the data's units (standardised by a fixed center and
    scale), shifted by `shift` (a later pass's)."""
    rng = np.random.default_rng(0)
    means = torch.from_numpy(rng.normal(0.0, 1.0, (2, 3, 3)) + shift)
    chol = torch.from_numpy(np.broadcast_to(np.eye(3) * 0.8, (2, 3, 3, 3)).copy())
    log_weights = torch.log(torch.full((2, 3), 1 / 3, dtype=torch.float64))
    center, scale = np.array([0.5, -0.2, 0.1]), np.array([2.0, 1.5, 3.0])
    return PassPlan(center, scale, log_weights, means, chol.to(dtype), dtype, weighted=weighted, missing=True)


def _same_sums(a: PassSums, b: PassSums) -> None:
    """Bit for bit: statistics, log-likelihood sums and the worst-explained points."""
    for name in ("stats", "ll_sum", "worst_ll", "worst_x"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


@pytest.mark.parametrize(("weighted", "dtype"), [(False, torch.float64), (True, torch.float64), (False, torch.float32)])
def test_passes_read_back_are_passes_grouped_afresh(tmp_path, weighted: bool, dtype: torch.dtype) -> None:
    """Three passes at three parameter sets, chunks of 200 rows: the first writes, the others read back, each the
    pass that groups afresh, bit for bit (weights with a chunk of weight 0; float32 points)."""
    source = _source(tmp_path, weighted)
    spill = SpilledPasses(source, 200, str(tmp_path))
    try:
        for shift in (0.0, 0.3, -0.5):
            plan = _plan(dtype, weighted, shift)
            _same_sums(spill(plan), local_pass(source, 200, plan))
            assert not spill.off and spill._chunks is not None  # the file holds the chunks, and is read
    finally:
        spill.close()


def test_a_fit_by_chunks_is_the_same_with_or_without_its_file(tmp_path) -> None:
    """fit_stream groups the chunks once (its own SpilledPasses) and gives every iteration's log-likelihood and the
    final parameters bit for bit as passes grouping afresh (run_pass: local_pass)."""
    source = _source(tmp_path)
    cfg = FitConfig(n_components=3, covariance_type="VVV", restarts=2, seed=1, max_iter=12, tol=0.0)
    spilled = list(fit_stream(source, cfg, rows=300, missing=True))
    afresh = list(fit_stream(source, cfg, rows=300, missing=True, run_pass=functools.partial(local_pass, source, 300)))
    assert [s.mean_log_likelihood for s in spilled] == [s.mean_log_likelihood for s in afresh]
    for name in ("weights", "means", "covariances"):
        assert np.array_equal(getattr(spilled[-1].restarts, name), getattr(afresh[-1].restarts, name))


def _files(monkeypatch) -> list:
    """The temporary files SpilledPasses makes from now on."""
    made: list = []
    real = tempfile.TemporaryFile

    def recorded(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(spill_module.tempfile, "TemporaryFile", recorded)
    return made


def test_the_file_is_closed_when_the_fit_ends_is_cancelled_or_dropped(tmp_path, monkeypatch) -> None:
    """The file (unnamed: gone once closed) is closed at the fit's end, at a cancel between two passes and when the
    fit's generator is closed half-way."""
    made = _files(monkeypatch)
    source = _source(tmp_path)
    cfg = FitConfig(n_components=3, seed=1, max_iter=6, tol=0.0)
    list(fit_stream(source, cfg, rows=300, missing=True))
    assert len(made) == 1 and made[0].closed
    token = CancelToken()
    with pytest.raises(Cancelled):
        for snapshot in fit_stream(source, cfg, rows=300, missing=True, cancel=token):
            if snapshot.iteration == 2:
                token.cancel()
    assert len(made) == 2 and made[1].closed
    fits = fit_stream(source, cfg, rows=300, missing=True)
    next(fits), next(fits)
    assert len(made) == 3 and not made[2].closed  # read back from while the fit runs
    fits.close()
    assert made[2].closed


def test_no_file_without_room_or_on_memory(tmp_path, monkeypatch) -> None:
    """A disk without the file's size and the margin free, or a folder in memory (tmpfs), takes no file: the passes
    group afresh, with the same sums."""
    source, plan = _source(tmp_path), _plan()
    made = _files(monkeypatch)
    usage = type("Usage", (), {"free": spill_module.SPILL_MARGIN})
    monkeypatch.setattr(spill_module.shutil, "disk_usage", lambda folder: usage)
    spill = SpilledPasses(source, 200, str(tmp_path))
    _same_sums(spill(plan), local_pass(source, 200, plan))
    assert spill.off and made == []
    monkeypatch.undo()
    made = _files(monkeypatch)
    monkeypatch.setattr(spill_module, "file_system", lambda folder: "tmpfs")
    spill = SpilledPasses(source, 200, str(tmp_path))
    _same_sums(spill(plan), local_pass(source, 200, plan))
    assert spill.off and made == []


def test_the_file_system_is_the_longest_mount_holding_the_folder(tmp_path) -> None:
    """file_system reads Linux's mount table: the deepest mount point above the folder names its type."""
    table = tmp_path / "mounts"
    table.write_text(f"/dev/vda / ext4 rw 0 0\ntmpfs {tmp_path}/mem tmpfs rw 0 0\nx {tmp_path}/mem2 fuse rw 0 0\n")
    (tmp_path / "mem" / "in").mkdir(parents=True)
    assert file_system(str(tmp_path / "mem" / "in"), str(table)) == "tmpfs"
    assert file_system(str(tmp_path / "mem2x"), str(table)) == "ext4"  # a sibling whose name begins the same
    assert file_system(str(tmp_path), str(tmp_path / "none")) == ""


def test_a_failed_write_or_read_groups_afresh(tmp_path, monkeypatch) -> None:
    """A write that fails (a full disk) closes the file and the pass goes on with the same sums; a file that reads
    short (truncated behind the fit's back) is closed and that pass grouped afresh, with the same sums."""
    source, plan, later = _source(tmp_path), _plan(), _plan(shift=0.4)
    real_write, calls = spill_module._write_grouped, []

    def failing(out, grouped):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(out, grouped)

    monkeypatch.setattr(spill_module, "_write_grouped", failing)
    spill = SpilledPasses(source, 200, str(tmp_path))
    _same_sums(spill(plan), local_pass(source, 200, plan))
    assert spill.off and spill._file is None
    _same_sums(spill(later), local_pass(source, 200, later))
    monkeypatch.undo()
    spill = SpilledPasses(source, 200, str(tmp_path))
    spill(plan)
    spill._file.truncate(1000)
    _same_sums(spill(later), local_pass(source, 200, later))
    assert spill.off and spill._file is None


def test_a_short_read_is_an_os_error() -> None:
    """_fill raises where the file holds fewer bytes than the tensor takes (the caller then groups afresh)."""
    with pytest.raises(OSError, match="less than was written"):
        spill_module._fill(io.BytesIO(b"\0" * 12), 0, np.empty(2))


def _csv(tmp_path, weighted: bool = False):
    """1,000 complete points in 3-D (and a weights column, some 0) as a CSV file, opened by chunks."""
    x = missing_clusters(1000, 3, 0.0, 5)
    head, table = "a,b,c", x
    if weighted:
        w = np.random.default_rng(2).uniform(0.0, 2.0, len(x)) * (np.arange(len(x)) % 3 != 0)
        head, table = "a,b,c,w", np.column_stack([x, w])
    np.savetxt(tmp_path / "x.csv", table, delimiter=",", header=head, comments="", fmt="%.17g")
    return open_weighted(str(tmp_path / "x.csv"), None, "w") if weighted else open_source(tmp_path / "x.csv")


def _complete(plan: PassPlan, classify: bool = False) -> PassPlan:
    """The plan for data without missing values (or ICL's classifying pass)."""
    return dataclasses.replace(plan, missing=False, classify=classify)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_csvs_passes_read_back_are_passes_parsed_afresh(tmp_path, weighted: bool) -> None:
    """A CSV by chunks of 300 rows (a short last chunk): E-step passes at three parameter sets and ICL's classifying
    pass read back the parsed chunks, each the pass that parses the file again, bit for bit (weights too)."""
    source = _csv(tmp_path, weighted)
    assert spills(source, missing=False)
    spill = SpilledPasses(source, 300, str(tmp_path))
    try:
        for plan in (_complete(_plan(weighted=weighted, shift=s)) for s in (0.0, 0.3, -0.5)):
            _same_sums(spill(plan), local_pass(source, 300, plan))
            assert not spill.off and spill._chunks is not None
        plan = _complete(_plan(weighted=weighted), classify=True)
        a, b = spill(plan), local_pass(source, 300, plan)
        assert torch.equal(a.ll_sum, b.ll_sum) and torch.equal(a.map_sum, b.map_sum)
    finally:
        spill.close()


def test_a_fit_of_a_csv_by_chunks_keeps_its_chunks_and_closes_them(tmp_path, monkeypatch) -> None:
    """fit_stream over a CSV keeps the parsed chunks (one file, closed at the end) and gives every iteration's
    log-likelihood and the final parameters bit for bit as passes parsing afresh; a .npy file keeps nothing (read as
    fast as a copy)."""
    made = _files(monkeypatch)
    source = _csv(tmp_path)
    cfg = FitConfig(n_components=3, restarts=2, seed=1, max_iter=10, tol=0.0)
    kept = list(fit_stream(source, cfg, rows=300))
    afresh = list(fit_stream(source, cfg, rows=300, run_pass=functools.partial(local_pass, source, 300)))
    assert len(made) == 1 and made[0].closed
    assert [s.mean_log_likelihood for s in kept] == [s.mean_log_likelihood for s in afresh]
    for name in ("weights", "means", "covariances"):
        assert np.array_equal(getattr(kept[-1].restarts, name), getattr(afresh[-1].restarts, name))
    np.save(tmp_path / "x.npy", missing_clusters(1000, 3, 0.0, 5))
    list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=300))
    assert len(made) == 1


class _SmallDisk(io.RawIOBase):
    """A file on a disk that takes `room` bytes and refuses more (ENOSPC), as the raw file under a buffered one."""

    def __init__(self, room: int) -> None:
        self.data, self.room, self.at = bytearray(), room, 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at = offset if whence == 0 else (self.at + offset if whence == 1 else len(self.data) + offset)
        return self.at

    def truncate(self, size: int | None = None) -> int:
        del self.data[self.at if size is None else size :]
        return len(self.data)

    def write(self, b) -> int:
        b = bytes(b)
        if self.at + len(b) > self.room:
            raise OSError(28, "No space left on device")
        self.data[self.at : self.at + len(b)] = b
        self.at += len(b)
        return len(b)

    def readinto(self, b) -> int:
        piece = self.data[self.at : self.at + len(b)]
        memoryview(b)[: len(piece)] = piece
        self.at += len(piece)
        return len(piece)


def test_a_disk_full_at_the_last_buffered_bytes_reads_afresh(tmp_path, monkeypatch) -> None:
    """Chunks of 250 rows of 3 doubles (6,000 bytes: written through a 2,048-byte buffer) and a last one of 50 rows
    (1,200 bytes: kept in the buffer), on a disk with room for the large chunks only: the full disk shows at the
    pass's last flush and again when the file is closed. The pass goes on with the same sums, later passes read
    afresh, and the file is closed (it once stopped the fit: 'error: No space left on device')."""
    source, plan, later = _source(tmp_path), _plan(), _plan(shift=0.4)
    raws: list[_SmallDisk] = []

    def small_disk(**kwargs):
        raws.append(_SmallDisk(room=(1300 - 50) * 3 * 8))
        return io.BufferedRandom(raws[-1], buffer_size=2048)

    monkeypatch.setattr(spill_module.tempfile, "TemporaryFile", small_disk)
    monkeypatch.setattr(spill_module, "refusal", lambda folder, size: None)
    spill = SpilledPasses(source, 250, str(tmp_path))
    _same_sums(spill(plan), local_pass(source, 250, plan))
    assert len(raws) == 1 and len(raws[0].data) == (1300 - 50) * 3 * 8  # the large chunks were written
    assert spill.off and spill._file is None and raws[0].closed
    _same_sums(spill(later), local_pass(source, 250, later))


def test_it_says_where_the_file_goes_or_why_there_is_none(tmp_path, monkeypatch) -> None:
    """say(line): the folder and the file's size (1,300 x 3 doubles: 30.5 KB) when it is made; else why not (a disk
    without room, a folder in memory, a write that failed), since every pass is then slower (a CSV: parsed again)."""
    source, plan = _source(tmp_path), _plan()
    said: list[str] = []
    spill = SpilledPasses(source, 200, str(tmp_path), say=said.append)
    spill(plan)
    spill.close()
    assert said == [
        "missing values: the chunks, grouped by pattern, are kept for the later passes in an unnamed file in "
        f"{tmp_path} (30.5 KB; set TMPDIR to put it elsewhere), gone when the fit ends, however it ends"
    ]
    afresh = (
        "missing values: the chunks, grouped by pattern, are not kept, so every pass reads and groups the chunks again"
    )
    with monkeypatch.context() as m:
        m.setattr(spill_module.shutil, "disk_usage", lambda folder: type("Usage", (), {"free": 1 << 20}))
        said.clear()
        SpilledPasses(source, 200, str(tmp_path), say=said.append)(plan)
        assert len(said) == 1 and said[0].startswith(afresh)
        assert f"{tmp_path} has 1 MB free, and the file (30.5 KB) takes at most half of what is free" in said[0]
    with monkeypatch.context() as m:
        m.setattr(spill_module, "file_system", lambda folder: "tmpfs")
        said.clear()
        SpilledPasses(source, 200, str(tmp_path), say=said.append)(plan)
        assert len(said) == 1 and said[0].startswith(afresh) and f"{tmp_path} lies in memory (tmpfs)" in said[0]

    def full(out, grouped):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spill_module, "_write_grouped", full)
    said.clear()
    SpilledPasses(source, 200, str(tmp_path), say=said.append)(plan)
    assert len(said) == 2 and said[1].startswith(afresh)
    assert said[1].endswith("writing it failed (No space left on device)")
    said.clear()
    SpilledPasses(_csv(tmp_path), 200, str(tmp_path), say=said.append)(_complete(plan))
    assert said[0].startswith("the text file's chunks, as parsed, are kept for the later passes in an unnamed file in")
