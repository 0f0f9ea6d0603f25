"""Qt's xcb plugin needs system libraries: every missing one is named at once, with the packages to install.
And a DISPLAY no X server answers at is named as such (Qt aborts with a core dump and blames a library)."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gui import system_libraries as sl

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 displays are probed on Linux")

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def test_every_missing_library_is_named_with_its_package(monkeypatch, tmp_path) -> None:
    plugin, qpa = tmp_path / "libqxcb.so", tmp_path / "libQt6XcbQpa.so.6"
    plugin.touch()
    qpa.touch()
    monkeypatch.setattr(sl.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(sl.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, LDD_OUTPUT, ""))
    missing = sl.missing_libraries([plugin, qpa])
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"]  # once each
    message = sl.missing_message(missing)
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0)" in message
    assert message.count("libxcb-keysyms.so.1") == 1


def test_without_ldd_each_known_library_is_looked_up(monkeypatch) -> None:
    monkeypatch.setattr(sl.shutil, "which", lambda name: None)
    monkeypatch.setattr(sl.ctypes.util, "find_library", lambda name: None if name in ("xcb-icccm", "EGL") else name)
    assert sl.missing_libraries([]) == ["libxcb-icccm.so.4", "libEGL.so.1"]
    assert sl.package_for("libXtst.so.6") == "libxtst6" and sl.package_for("libfoo-2.so.3") == "libfoo-2-3"


def test_the_real_plugin_is_found_and_checked() -> None:
    files = sl.xcb_plugin_files()
    assert files and files[0].name == "libqxcb.so"
    missing = sl.missing_libraries(files)  # whatever this machine lacks; each a library name
    assert all(".so" in name for name in missing)


def test_the_window_refuses_to_start_with_the_message(monkeypatch) -> None:
    import gui.app

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sl, "display_problem", lambda name: "")  # as if an X server answered at :99
    monkeypatch.setattr(sl, "missing_libraries", lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    text = gui.app.missing_system_library()
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text and "apt install libxcb-icccm4 libxcb-keysyms1" in text


# --- DISPLAY: is an X server there? ----------------------------------------------------------------------


def unused_display() -> int:
    """A display number nothing answers at here (no socket file, no abstract socket, no TCP port)."""
    for number in range(157, 400):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not sl.sockets_answer(
            sl.XDisplay(host="", number=number), timeout=0.5
        ):
            return number
    pytest.skip("every display number from 157 to 399 answers here")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (":0", sl.XDisplay(host="", number=0)),
        (":57", sl.XDisplay(host="", number=57)),
        (":1.2", sl.XDisplay(host="", number=1, screen=2)),
        ("unix:3", sl.XDisplay(host="unix", number=3)),
        ("localhost:10.0", sl.XDisplay(host="localhost", number=10)),
        ("example.org:2", sl.XDisplay(host="example.org", number=2)),
        ("192.168.1.5:0.1", sl.XDisplay(host="192.168.1.5", number=0, screen=1)),
        ("[::1]:4", sl.XDisplay(host="[::1]", number=4)),
        ("::1:4", sl.XDisplay(host="::1", number=4)),
        ("tcp/remote:1", sl.XDisplay(host="remote", number=1, protocol="tcp")),
        ("unix/:5", sl.XDisplay(host="", number=5, protocol="unix")),
        ("/no/such/socket", sl.XDisplay(host="", number=0, protocol="unix", path="/no/such/socket")),
    ],
)
def test_display_names_are_read_as_libxcb_reads_them(name, expected) -> None:
    assert sl.parse_display(name) == expected


@pytest.mark.parametrize("name", ["", "0", ":", "host", ":x", ":1.", ":1.y", ":1:2x", "local/:0"])
def test_what_is_no_display_name_is_refused(name) -> None:
    assert sl.parse_display(name) is None


def test_where_each_display_is_looked_for() -> None:
    local = sl.parse_display(":57")
    assert local.local and local.socket_path == "/tmp/.X11-unix/X57" and local.tcp == ("localhost", 6057)
    assert local.where() == "/tmp/.X11-unix/X57 or localhost port 6057"
    assert sl.parse_display("unix:57").where() == "/tmp/.X11-unix/X57"  # the unix socket only, as libxcb
    remote = sl.parse_display("example.org:3.0")
    assert not remote.local and remote.where() == "example.org port 6003"


def test_a_socket_path_with_a_screen_number(tmp_path) -> None:
    path = tmp_path / "xsock"
    path.touch()
    assert sl.parse_display(f"{path}.1") == sl.XDisplay(host="", number=0, screen=1, protocol="unix", path=str(path))


@linux_only
def test_a_display_nobody_listens_on_gets_the_clear_message(monkeypatch) -> None:
    import gui.app

    number = unused_display()
    monkeypatch.setenv("DISPLAY", f":{number}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sl, "missing_libraries", lambda: ["libxcb-cursor.so.0"])  # not the problem: no display
    text = gui.app.missing_system_library()
    assert text.startswith(f"no X display answers at DISPLAY=:{number} (nothing accepts a connection on ")
    assert f"/tmp/.X11-unix/X{number} or localhost port {6000 + number}" in text
    assert "start the X server" in text and "python3 main.py screenshot OUT.png" in text
    assert "libxcb-cursor" not in text


@linux_only
def test_without_libxcb_the_sockets_decide(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(sl, "_load_xcb", lambda: None)
    number = unused_display()
    assert sl.xcb_connect_error(f":{number}") is None
    assert sl.display_problem(f":{number}").startswith(f"no X display answers at DISPLAY=:{number}")
    path = tmp_path / "X"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:  # something listens: let Qt try
        server.bind(str(path))
        server.listen()
        assert sl.sockets_answer(sl.parse_display(str(path)))
        assert sl.display_problem(str(path)) == ""
    path.unlink()
    assert "nothing accepts a connection on " + str(path) in sl.display_problem(str(path))


def test_other_platforms_and_wayland_are_not_probed(monkeypatch) -> None:
    import gui.app

    def probed(name):
        raise AssertionError("the X display was probed")

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(sl, "display_problem", probed)
    monkeypatch.setattr(sl, "missing_libraries", lambda: [])
    monkeypatch.setenv("DISPLAY", ":57")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert gui.app.missing_system_library() == ""
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert gui.app.missing_system_library() == ""


def _no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@linux_only
def test_the_window_with_a_display_nobody_answers_at_exits_2_with_the_message() -> None:
    number = unused_display()
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=f":{number}", GMM_STUDIO_NO_BOOTSTRAP="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_no_core_dump,
    )
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert f"error: no X display answers at DISPLAY=:{number}" in result.stderr
    assert "python3 main.py screenshot OUT.png" in result.stderr
    for sign in ("Aborted", "core dumped", "Traceback", "qt.qpa"):
        assert sign not in result.stderr


@contextlib.contextmanager
def running_xvfb(*args: str):
    """A live Xvfb display (its number: Xvfb picks a free one and says it on -displayfd); skipped where Xvfb
    is not on PATH."""
    if not sys.platform.startswith("linux") or shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not on PATH (apt-get install xvfb)")
    read, write = os.pipe()
    # a number of this process's own, far from :0: with -displayfd alone every Xvfb takes the lowest free one, and a
    # server of another test run ending there removed the new one's socket (seen as a random "cannot connect")
    number = 300 + os.getpid() % 600
    cmd = ["Xvfb", f":{number}", "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp", *args]
    proc = subprocess.Popen(cmd, pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        said = b""
        while not said.endswith(b"\n") and select.select([read], [], [], 20)[0]:
            chunk = os.read(read, 16)
            if not chunk:
                break
            said += chunk
        assert said.strip().isdigit(), f"Xvfb did not start (it said {said!r})"
        yield int(said)
    finally:
        os.close(read)
        proc.terminate()
        proc.wait(timeout=20)


@linux_only
def test_a_live_xvfb_display_passes_the_probe() -> None:
    with running_xvfb() as number:
        for name in (f":{number}", f":{number}.0", f"unix:{number}"):
            assert sl.xcb_connect_error(name) in (0, None)  # None: no libxcb here, the sockets decide
            assert sl.sockets_answer(sl.parse_display(name))
            assert sl.display_problem(name) == ""
        if sl._load_xcb() is not None:  # libxcb checks the screen number
            assert (
                sl.display_problem(f":{number}.3")
                == f"the X server at DISPLAY=:{number}.3 has no screen 3: use DISPLAY=:{number}"
            )


@linux_only
def test_an_x_server_that_refuses_us_is_told_from_one_that_is_not_there(tmp_path, monkeypatch) -> None:
    if shutil.which("xauth") is None or sl._load_xcb() is None:
        pytest.skip("needs xauth and libxcb")
    server_auth, client_auth, cookie = tmp_path / "server", tmp_path / "client", os.urandom(16).hex()
    server_auth.touch()
    client_auth.touch()
    subprocess.run(["xauth", "-f", str(server_auth), "add", ":0", ".", cookie], check=True)  # the server takes any
    with running_xvfb("-auth", str(server_auth)) as number:
        monkeypatch.setenv("XAUTHORITY", str(tmp_path / "no-cookies"))
        text = sl.display_problem(f":{number}")
        assert text.startswith(f"the X server at DISPLAY=:{number} answers but refuses the connection")
        subprocess.run(["xauth", "-f", str(client_auth), "add", f":{number}", ".", cookie], check=True)
        monkeypatch.setenv("XAUTHORITY", str(client_auth))  # with the cookie for this display it lets us in
        assert sl.display_problem(f":{number}") == ""
