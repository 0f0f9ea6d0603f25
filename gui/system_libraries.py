"""What Qt's X11 (xcb) platform plugin needs from the system, checked before Qt loads (without Qt).

Qt aborts with "could not load the Qt platform plugin" when one library is missing, and names none of them.
A fresh Debian/Ubuntu (a server with Xvfb, a minimal desktop) lacks several at once, so every library the
plugin and Qt's xcb integration link against is checked (with `ldd` where it exists, else by looking each
known one up) and all missing ones are named in one message with the packages that provide them.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

# soname -> Debian/Ubuntu package (the ones Qt 6's xcb plugin links against, directly or through its libraries)
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def xcb_plugin_files() -> list[Path]:
    """The xcb platform plugin and Qt's xcb integration library of the installed PySide6 ([] if not found)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    qt = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    candidates = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))]
    return [p for p in candidates if p.exists()][:2]


def missing_libraries(files: list[Path] | None = None) -> list[str]:
    """Sonames the xcb plugin needs that the system lacks, in a stable order."""
    files = xcb_plugin_files() if files is None else files
    ldd = shutil.which("ldd")
    if files and ldd:
        missing: list[str] = []
        for f in files:
            try:
                out = subprocess.run([ldd, str(f)], capture_output=True, text=True, timeout=20).stdout
            except (OSError, subprocess.SubprocessError):
                break
            missing += [name for name in dict.fromkeys(_NOT_FOUND.findall(out)) if name not in missing]
        else:
            return missing
    # no ldd (or it failed): look up each library the plugin is known to need
    return [so for so in DEBIAN_PACKAGES if not ctypes.util.find_library(so.split(".so")[0].removeprefix("lib"))]


def package_for(soname: str) -> str:
    """The Debian/Ubuntu package that ships a library (a guess from its name when it is not a known one)."""
    if soname in DEBIAN_PACKAGES:
        return DEBIAN_PACKAGES[soname]
    base, _, version = soname.partition(".so.")
    name = base.lower()
    return f"{name}{'-' if name[-1].isdigit() else ''}{version.split('.')[0]}" if version else name


def missing_message(missing: list[str]) -> str:
    """One message naming every missing library and the command that installs them all ('' if none)."""
    if not missing:
        return ""
    packages = " ".join(dict.fromkeys(package_for(so) for so in missing))
    return (
        f"Qt needs these X11 libraries to open a window, and they are missing: {', '.join(missing)}. "
        f"Install them (Debian/Ubuntu: sudo apt install {packages}) and start GMM Studio again; the command "
        "line (`python3 main.py fit --help`) and `python3 main.py screenshot` work without them"
    )
