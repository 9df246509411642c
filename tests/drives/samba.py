"""A real Samba server on loopback for the SMB scan tests (started, then always stopped).
A missing Samba fails the tests loudly; it never skips them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "mobilise-test-pw"
# Samba's own table (vfs_fruit's catia mappings): each character Windows forbids in a
# name, as the private-use character Apple and Microsoft's Services for Mac use for it.
PRIVATE_USE_MAPPINGS = ",".join(
    [f"0x{c:02x}:0x{0xF000 + c:04x}" for c in range(1, 0x20)]
    + [f"0x{ord(c):02x}:0x{0xF020 + i:04x}" for i, c in enumerate('"*:<>?\\|')])


@dataclass(frozen=True)
class Samba:
    port: int
    share: str
    root: Path
    username: str
    password: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_samba(base: Path, share_root: Path) -> tuple[Samba, subprocess.Popen[bytes]]:
    smbd = shutil.which("smbd") or "/usr/sbin/smbd"
    assert Path(smbd).exists(), "Samba (smbd) is not installed: apt-get install samba"
    port = _free_port()
    for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    conf = base / "smb.conf"
    conf.write_text(f"""[global]
  server role = standalone server
  security = user
  map to guest = never
  passdb backend = tdbsam:{base}/private/passdb.tdb
  private dir = {base}/private
  lock directory = {base}/lock
  state directory = {base}/state
  cache directory = {base}/cache
  pid directory = {base}/pid
  ncalrpc dir = {base}/ncalrpc
  log file = {base}/log.%m
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = {port}
  disable netbios = yes
  server min protocol = SMB2_10
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  server signing = auto
[home]
  path = {share_root}
  read only = no
  browseable = yes
  follow symlinks = yes
  wide links = yes
[faithful]
  # The same folder, shared so that names Windows forbids reach the client faithfully:
  # no 8.3 mangling, and each forbidden character as its private-use character.
  path = {share_root}
  read only = no
  vfs objects = catia
  catia:mappings = {PRIVATE_USE_MAPPINGS}
  mangled names = no
  follow symlinks = yes
  wide links = yes
[verbatim]
  # The same folder with mangling off alone: every name as it is stored.
  path = {share_root}
  read only = yes
  mangled names = no
""")
    subprocess.run(["smbpasswd", "-c", str(conf), "-a", "-s", "root"],
                   input=f"{PASSWORD}\n{PASSWORD}\n".encode(), check=True,
                   capture_output=True)
    # Its own session: on shutdown smbd signals its whole process group, which must not
    # be the test run's.
    with open(base / "smbd.out", "wb") as log:  # the child keeps its own copy
        proc = subprocess.Popen([smbd, "--foreground", "--no-process-group", "-s", str(conf),
                                 "-d", "1", "--debug-stdout"], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert proc.poll() is None, (base / "smbd.out").read_text()
            assert time.monotonic() < deadline, "smbd did not start listening"
            time.sleep(0.1)
    return Samba(port, "home", share_root, "root", PASSWORD), proc


def stop_samba(proc: subprocess.Popen[bytes]) -> None:
    """Stop smbd and the children it forked (its own process group, by its id)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass
