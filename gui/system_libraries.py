"""What Qt's X11 (xcb) platform plugin needs from the system, checked before Qt loads (without Qt).

Qt aborts with "could not load the Qt platform plugin" when one library is missing, and names none of them.
A fresh Debian/Ubuntu (a server with Xvfb, a minimal desktop) lacks several at once, so every library the
plugin and Qt's xcb integration link against is checked (with `ldd` where it exists, else by looking each
known one up) and all missing ones are named in one message with the packages that provide them.

Qt also aborts (SIGABRT, a core dump, after the same misleading message) when DISPLAY names an X display
nobody answers at: `display_problem` asks the X library Qt itself uses (libxcb, through ctypes: it parses
DISPLAY and reads XAUTHORITY as Qt will) whether it can connect, and connects to the display's sockets
itself (the unix socket, Linux's abstract one, TCP port 6000 + n) to tell "nobody listens" from "refused",
or to decide alone where libxcb cannot be loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
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


# --- is there an X display at DISPLAY? -------------------------------------------------------------------

PROBE_TIMEOUT_S = 3.0  # per connection attempt; a display on this machine answers in milliseconds
X_TCP_PORT = 6000
X11_UNIX_DIR = "/tmp/.X11-unix"
# xcb_connection_has_error's codes (xcb.h)
XCB_CONN_ERROR = 1
XCB_CONN_CLOSED_PARSE_ERR = 5
XCB_CONN_CLOSED_INVALID_SCREEN = 6
_NO_DISPLAY_ADVICE = (
    "without a display, `python3 main.py screenshot OUT.png` saves the window as a picture and the command "
    "line (`python3 main.py fit --help`) fits"
)


@dataclass(frozen=True)
class XDisplay:
    """A parsed DISPLAY: [protocol/][host]:number[.screen] as libxcb reads it, or a path to the server's socket."""

    host: str  # '' or 'unix': this machine; else a host name or address (IPv6 in [brackets])
    number: int
    screen: int = 0
    protocol: str = ""  # '' (any), 'unix', 'tcp', 'inet' or 'inet6'
    path: str = ""  # the socket's path, for the DISPLAY=/path/to/socket form

    @property
    def local(self) -> bool:
        """libxcb connects through the unix socket (a bare ':n' falls back to TCP on localhost)."""
        return bool(self.path) or self.protocol == "unix" or (not self.protocol and self.host in ("", "unix"))

    @property
    def socket_path(self) -> str:
        return self.path or f"{X11_UNIX_DIR}/X{self.number}"

    @property
    def tcp(self) -> tuple[str, int] | None:
        """(host, port) to try over TCP: the host's, or localhost's when a bare ':n' has no unix socket."""
        if self.path or self.protocol == "unix" or self.host == "unix" or (not self.host and self.protocol):
            return None
        return (self.host or "localhost", X_TCP_PORT + self.number)

    def where(self) -> str:
        """The addresses probed, in words."""
        places = [self.socket_path] if self.local else []
        if self.tcp:
            places.append(f"{self.tcp[0]} port {self.tcp[1]}")
        return " or ".join(places)


def parse_display(name: str) -> XDisplay | None:
    """DISPLAY as libxcb parses it (None where it cannot): '[protocol/][host]:number[.screen]', e.g. ':0',
    ':1.0', 'unix:0', 'localhost:10.0', '[::1]:0', 'tcp/host:2'; or the path of the server's socket,
    optionally with '.screen' ('/tmp/.X11-unix/X0', '/run/user/1000/xsock.1')."""
    if not name:
        return None
    if name.startswith("/"):
        path, screen = name, 0
        if not os.path.exists(path):
            base, dot, suffix = name.rpartition(".")
            if dot and suffix.isdigit() and os.path.exists(base):
                path, screen = base, int(suffix)
            elif ":" in name.rpartition("/")[2]:  # '/path/to/launchd:0' and the like: the host:number form
                path = ""
        if path:
            return XDisplay(host="", number=0, screen=screen, protocol="unix", path=path)
    protocol, slash, rest = name.rpartition("/")
    if not slash:
        protocol, rest = "", name
    host, colon, tail = rest.rpartition(":")
    if not colon:
        return None
    number, dot, screen = tail.partition(".")
    if not number.isdigit() or (dot and not screen.isdigit()):
        return None
    if protocol not in ("", "unix", "tcp", "inet", "inet6"):
        return None
    return XDisplay(host=host, number=int(number), screen=int(screen) if dot else 0, protocol=protocol)


def _connects(family: int, address, timeout: float) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(address)
            return True
    except OSError:
        return False


def sockets_answer(display: XDisplay, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether something accepts a connection where libxcb would connect for this display (in its order:
    Linux's abstract socket, the socket file, then TCP), without speaking X to it."""
    if display.local and hasattr(socket, "AF_UNIX"):
        if sys.platform.startswith("linux") and _connects(socket.AF_UNIX, "\0" + display.socket_path, timeout):
            return True
        if _connects(socket.AF_UNIX, display.socket_path, timeout):
            return True
    if display.tcp is None:
        return False
    host, port = display.tcp
    bracketed = host.startswith("[") and host.endswith("]")  # an IPv6 address, as libxcb reads it
    family = socket.AF_INET6 if bracketed else socket.AF_UNSPEC
    try:
        infos = socket.getaddrinfo(host[1:-1] if bracketed else host, port, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(_connects(fam, addr, timeout) for fam, _, _, _, addr in infos)


def _load_xcb():
    """libxcb (the library Qt's xcb plugin connects with), or None where it is not loadable."""
    for name in ("libxcb.so.1", ctypes.util.find_library("xcb")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        lib.xcb_connect.restype = ctypes.c_void_p
        lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        lib.xcb_connection_has_error.restype = ctypes.c_int
        lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
        lib.xcb_disconnect.restype = None
        return lib
    return None


def xcb_connect_error(name: str, timeout: float = PROBE_TIMEOUT_S) -> int | None:
    """libxcb's verdict on connecting to DISPLAY `name` as Qt will (XAUTHORITY included): 0 when it connects,
    else xcb_connection_has_error's code; None when libxcb is not loadable or has no verdict within
    `timeout` (a host that drops packets keeps connect() waiting for minutes: it runs in a daemon thread)."""
    lib = _load_xcb()
    if lib is None:
        return None
    result: list[int] = []

    def connect() -> None:
        screen = ctypes.c_int(0)
        connection = lib.xcb_connect(name.encode(), ctypes.byref(screen))
        result.append(lib.xcb_connection_has_error(connection) if connection else XCB_CONN_ERROR)
        lib.xcb_disconnect(connection)  # a no-op on xcb's static error connections

    thread = threading.Thread(target=connect, name="x11-display-probe", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)
    return result[0] if result else None


def display_problem(name: str, timeout: float = PROBE_TIMEOUT_S) -> str:
    """Why the X display `name` (DISPLAY's value) cannot take a window, in words; '' when it answers, or
    when that cannot be told (then Qt tries, as it would have)."""
    display = parse_display(name)
    code = xcb_connect_error(name, timeout)
    if code == 0:
        return ""
    if code == XCB_CONN_CLOSED_PARSE_ERR:
        socket_path = " (the X library here, libxcb, reads no socket path in DISPLAY)" if name.startswith("/") else ""
        return (
            f"DISPLAY={name!r} is not an X display address{socket_path}: the form is [host]:display[.screen], "
            f"e.g. :0 or localhost:10.0; set DISPLAY to your X server's; {_NO_DISPLAY_ADVICE}"
        )
    if code == XCB_CONN_CLOSED_INVALID_SCREEN and display is not None:
        return f"the X server at DISPLAY={name} has no screen {display.screen}: use DISPLAY={name.rpartition('.')[0]}"
    if code not in (None, XCB_CONN_ERROR):
        return ""
    answers = sockets_answer(display, timeout) if display is not None else False
    if answers:
        if code is None:  # only the sockets could be asked, and they answer: let Qt try
            return ""
        return (
            f"the X server at DISPLAY={name} answers but refuses the connection (X authorization: check "
            f"XAUTHORITY, or let this user in with `xhost +SI:localuser:$USER` on that display); "
            f"{_NO_DISPLAY_ADVICE}"
        )
    if code is None and display is None:
        return ""
    where = f" (nothing accepts a connection on {display.where()})" if display is not None and display.where() else ""
    return (
        f"no X display answers at DISPLAY={name}{where}: start the X server (or the desktop session) for "
        f"that display, or set DISPLAY to one that runs (`echo $DISPLAY` in a terminal of your desktop "
        f"shows it); {_NO_DISPLAY_ADVICE}"
    )
