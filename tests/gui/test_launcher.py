"""install-launcher: the .desktop entry points at this project's environment, validates, and uninstalls."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gui import launcher

ROOT = Path(__file__).resolve().parents[2]


def _entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_install_writes_a_valid_entry_and_uninstall_removes_it(tmp_path) -> None:
    entry = launcher.install(tmp_path)
    assert entry == tmp_path / "applications" / "gmm-studio.desktop"
    fields = _entry(entry)
    # the keys the Desktop Entry spec requires for an application, and ours
    assert fields["Type"] == "Application" and fields["Name"] == "GMM Studio"
    assert fields["Terminal"] == "false"
    assert fields["Categories"].endswith(";")
    exec_args = shlex.split(fields["Exec"])
    assert exec_args == [sys.executable, str(ROOT / "main.py")]
    icon = Path(fields["Icon"])
    assert icon.is_file() and icon.read_bytes() == (ROOT / "gui" / "resources" / "gmm-studio.svg").read_bytes()
    assert os.access(entry, os.X_OK)
    removed = launcher.uninstall(tmp_path)
    assert set(removed) == {entry, icon} and not entry.exists() and not icon.exists()
    assert launcher.uninstall(tmp_path) == []


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate is not installed (Debian: desktop-file-utils)",
)
def test_entry_passes_desktop_file_validate(tmp_path) -> None:
    entry = launcher.install(tmp_path)
    ok, messages = launcher.validate(entry)
    assert ok, messages


def test_validate_catches_a_broken_entry(tmp_path) -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed")
    bad = tmp_path / "bad.desktop"
    bad.write_text("[Desktop Entry]\nName=x\nExec=x\n")  # no Type
    ok, messages = launcher.validate(bad)
    assert not ok and "Type" in messages


def test_exec_arguments_with_spaces_are_quoted() -> None:
    assert launcher.quote_exec_arg("/a b/python") == '"/a b/python"'
    assert launcher.quote_exec_arg('/x"y') == '"/x\\"y"'
    assert launcher.quote_exec_arg("/plain/path") == "/plain/path"
    assert launcher.quote_exec_arg("/50%/p") == "/50%%/p"


def test_command_line_install_and_uninstall(tmp_path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path), GMM_STUDIO_NO_BOOTSTRAP="1")
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "install-launcher"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "installed" in out and (tmp_path / "applications" / "gmm-studio.desktop").exists()
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "install-launcher", "--uninstall"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "removed" in out and not (tmp_path / "applications" / "gmm-studio.desktop").exists()


def test_windows_shortcut_runs_pythonw_without_a_console() -> None:
    script = launcher.windows_shortcut_script(
        Path("C:/Users/a b/Start Menu/GMM Studio.lnk"),
        Path("C:/p/.venv/Scripts/pythonw.exe"),
        Path("C:/p/main.py"),
        Path("C:/p/gui/resources/gmm-studio.ico"),
    )
    assert "pythonw.exe" in script and "CreateShortcut('C:/Users/a b/Start Menu/GMM Studio.lnk')" in script
