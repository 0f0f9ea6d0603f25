"""main.py's first run installs torch's CPU build by default (issue 22 item 19): the commands it runs, checked by
their arguments (no download); and the other routes (pip, pipx, uv) as the README and pyproject give them."""

from __future__ import annotations

import subprocess

import pytest
import tomllib
from data_sets import ROOT

import main

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@pytest.fixture
def bootstrap(tmp_path, monkeypatch):
    """main's installer with a fake venv and a recording subprocess.run; returns (calls, results to give)."""
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text("")
    monkeypatch.setattr(main, "_venv_python", lambda: python)
    monkeypatch.setattr(main, "STAMP", tmp_path / "stamp")
    calls: list[list[str]] = []
    results: list[int] = []

    def run(cmd, *args, **kwargs):
        calls.append(list(cmd))
        return subprocess.CompletedProcess(cmd, results.pop(0) if results else 0)

    monkeypatch.setattr(main.subprocess, "run", run)
    return calls, results


def _pin() -> str:
    return next(
        line.strip() for line in (ROOT / "requirements.lock").read_text().splitlines() if line.startswith("torch==")
    )


def test_the_first_run_takes_torch_from_the_cpu_index_then_the_lock(bootstrap, monkeypatch) -> None:
    calls, _ = bootstrap
    monkeypatch.delenv("GMM_STUDIO_TORCH", raising=False)
    main._install_venv()
    assert len(calls) == 2
    torch, rest = calls
    assert torch[1:4] == ["-m", "pip", "install"] and _pin() in torch and "--no-deps" in torch
    assert torch[torch.index("--index-url") + 1] == CPU_INDEX
    assert rest[-2:] == ["-r", str(ROOT / "requirements.lock")] and "--index-url" not in rest
    assert main.STAMP.read_text().strip() == main._lock_digest()


def test_without_the_pytorch_index_pip_s_own_configuration_is_tried(bootstrap, monkeypatch) -> None:
    calls, results = bootstrap
    monkeypatch.delenv("GMM_STUDIO_TORCH", raising=False)
    results.extend([1, 0, 0])  # the CPU index unreachable
    main._install_venv()
    assert len(calls) == 3
    assert "--index-url" in calls[0] and "--index-url" not in calls[1] and _pin() in calls[1]


def test_gmm_studio_torch_cuda_takes_pips_configured_torch(bootstrap, monkeypatch) -> None:
    calls, _ = bootstrap
    monkeypatch.setenv("GMM_STUDIO_TORCH", "cuda")
    main._install_venv()
    assert "--index-url" not in calls[0] and _pin() in calls[0]
    cpu_digest = main._lock_digest()
    monkeypatch.setenv("GMM_STUDIO_TORCH", "cpu")
    assert main._lock_digest() != cpu_digest  # switching the build installs again


def test_an_unknown_torch_build_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setenv("GMM_STUDIO_TORCH", "rocm")
    with pytest.raises(SystemExit) as exc:
        main._torch_variant()
    assert exc.value.code == 2 and "set it to cpu or cuda" in capsys.readouterr().err


def test_every_install_route_names_the_cpu_index() -> None:
    """pip and pipx through --extra-index-url (pip takes 2.13.0+cpu: a local version sorts above 2.13.0), uv
    through pyproject's explicit index for torch."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    lines = [line for page in pages for line in page.read_text().splitlines()]
    routes = [line for line in lines if line.startswith(("pipx install", "python3 -m venv ~/gmm"))]
    assert {line.split()[0] for line in routes} == {"pipx", "python3"}
    for line in routes:
        assert f"--extra-index-url {CPU_INDEX}" in line and "-c requirements.lock" in line
    uv = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]
    index = {i["name"]: i for i in uv["index"]}[uv["sources"]["torch"]["index"]]
    assert index["url"] == CPU_INDEX and index["explicit"] is True
