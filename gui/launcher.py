"""`python3 main.py install-launcher [--uninstall]`: a desktop-menu entry that opens the window.

On Linux (freedesktop): `gmm-studio.desktop` in $XDG_DATA_HOME/applications (default ~/.local/share)
and the icon in $XDG_DATA_HOME/icons/hicolor/scalable/apps; Exec runs the Python that runs this command on
main.py: a checkout's own .venv (main.py re-runs itself there), or the environment pip, pipx or uv installed
GMM Studio into. On Windows: a Start-menu shortcut running pythonw.exe (no console window); main.py sends
the missing standard streams to a log file there. No Qt is needed (this runs before any window).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

APP_ID = "gmm-studio"
ROOT = Path(__file__).resolve().parents[1]
ICON_SOURCE = ROOT / "gui" / "resources" / "gmm-studio.svg"
# Characters that make the Desktop Entry spec require an argument to be quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher_python(windowed: bool = False) -> Path:
    """The interpreter of this installation (pythonw.exe beside it on Windows: no console window)."""
    python = Path(sys.executable)
    if os.name == "nt" and windowed and (python.parent / "pythonw.exe").exists():
        return python.parent / "pythonw.exe"
    return python


def quote_exec_arg(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec asks (and double '%' for the field codes)."""
    arg = arg.replace("%", "%%")
    if not any(ch in _RESERVED for ch in arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def desktop_entry(python: Path, main: Path, icon: Path) -> str:
    """The .desktop file's text."""
    exec_line = " ".join(quote_exec_arg(str(a)) for a in (python, main))
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",  # the newest that Debian 12's desktop-file-validate knows
            "Name=GMM Studio",
            "GenericName=Gaussian mixture fitting",
            "Comment=Fit Gaussian mixture models with a Pyro EM engine and watch the fit happen",
            f"Exec={exec_line}",
            f"Path={_escape_value(str(main.parent))}",
            f"Icon={_escape_value(str(icon))}",
            "Terminal=false",
            "Categories=Science;Math;DataVisualization;",  # one main category (Science), or menus list it twice
            "Keywords=Gaussian;mixture;EM;clustering;Pyro;",
            f"StartupWMClass={APP_ID}",
            "StartupNotify=true",
            "",
        ]
    )


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def install(home: Path | None = None) -> Path:
    """Write the icon and the .desktop entry; return the entry's path."""
    home = home or data_home()
    apps = home / "applications"
    icons = home / "icons" / "hicolor" / "scalable" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    icons.mkdir(parents=True, exist_ok=True)
    icon = icons / f"{APP_ID}.svg"
    shutil.copyfile(ICON_SOURCE, icon)
    entry = apps / f"{APP_ID}.desktop"
    tmp = entry.with_suffix(".desktop.tmp")
    tmp.write_text(desktop_entry(launcher_python(), ROOT / "main.py", icon), encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, entry)
    if shutil.which("update-desktop-database"):
        subprocess.run(["update-desktop-database", str(apps)], check=False, capture_output=True)
    return entry


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove the entry and the icon; return what was removed."""
    home = home or data_home()
    removed = []
    for path in (
        home / "applications" / f"{APP_ID}.desktop",
        home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
    ):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def validate(entry: Path) -> tuple[bool, str]:
    """Run desktop-file-validate on the entry: (valid, its messages). (False, reason) when it is missing."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        return False, "desktop-file-validate is not installed (Debian/Ubuntu: apt install desktop-file-utils)"
    result = subprocess.run([tool, str(entry)], capture_output=True, text=True)
    return result.returncode == 0 and not result.stdout.strip(), (result.stdout + result.stderr).strip()


def windows_shortcut_script(link: Path, target: Path, main: Path, icon: Path) -> str:
    """PowerShell that writes a Start-menu .lnk running pythonw.exe main.py (no console window)."""

    def ps(s: Path) -> str:
        return "'" + str(s).replace("'", "''") + "'"

    return (
        f"$s = (New-Object -ComObject WScript.Shell).CreateShortcut({ps(link)}); "
        f"$s.TargetPath = {ps(target)}; $s.Arguments = '\"' + {ps(main)} + '\"'; "
        f"$s.WorkingDirectory = {ps(main.parent)}; $s.IconLocation = {ps(icon)}; $s.Save()"
    )


def _windows_link() -> Path:
    return Path(os.environ["APPDATA"]) / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "GMM Studio.lnk"


def run(args) -> int:
    """The install-launcher command (cli.parser's options in args: --uninstall)."""
    if os.name == "nt":
        link = _windows_link()
        if args.uninstall:
            link.unlink(missing_ok=True)
            print(f"removed {link}")
            return 0
        icon = ICON_SOURCE.with_suffix(".ico")
        script = windows_shortcut_script(link, launcher_python(windowed=True), ROOT / "main.py", icon)
        subprocess.run(["powershell", "-NoProfile", "-Command", script], check=True)
        print(f"installed {link}")
        return 0
    try:
        if args.uninstall:
            removed = uninstall()
            print("removed " + ", ".join(map(str, removed)) if removed else "nothing to remove: no launcher installed")
            return 0
        entry = install()
    except OSError as exc:  # XDG_DATA_HOME a file, a read-only folder: the user's setting, named
        where = exc.filename or os.environ.get("XDG_DATA_HOME", "")
        print(
            f"error: {where}: {exc.strerror or exc}: the desktop entry goes under $XDG_DATA_HOME/applications "
            "(default ~/.local/share): set XDG_DATA_HOME to a folder you can write",
            file=sys.stderr,
        )
        return 2
    ok, messages = validate(entry)
    print(f"installed {entry}")
    print("desktop-file-validate: " + ("valid" if ok else messages))
    return 0
