"""Tie each Claude Code CLI's life to the process that started it.

The SDK starts the CLI as a plain child (``anyio.open_process``): when a worker is killed with
SIGKILL (the OOM killer, ``kill -9`` of its pid), its CLIs are re-parented to init and go on
streaming, and may run tools, until they finish their turn, next to the step DBOS re-runs
elsewhere. On Linux the CLI is therefore started through a tiny wrapper (``cli_path``) that arms
``PR_SET_PDEATHSIG`` = SIGKILL (``setpriv --pdeathsig KILL``, util-linux; a one-line ``ctypes``
``prctl`` in this interpreter when ``setpriv`` is missing) and then ``exec``\\ s the real CLI: the
death signal survives ``exec``, so the CLI gets SIGKILL the moment its parent dies, however it
dies. After arming it, the wrapper checks that its parent is still the process that started it
(``AGENTDECK_CLI_PARENT``) and exits otherwise: a parent that died before the signal was armed
leaves no CLI either.

The signal fires when the *thread* that forked the CLI exits, not only the process. The SDK
spawns the CLI from the event loop's thread (asyncio runs ``subprocess.Popen`` in the loop's own
thread): DBOS's background loop or the application's main loop, both as long-lived as the
process, never a pool thread.

The wrapper is written once per content into a private directory (``$TMPDIR/agentdeck-<uid>``,
mode 0700, owned by this user; a fresh ``mkdtemp`` directory otherwise) and the real CLI's path
travels in ``AGENTDECK_CLI``; the final ``exec`` leaves the CLI's command line as it was. Off
Linux, or when the real CLI cannot be found (the SDK then reports its own "not found"), the CLI
is started directly, as before.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import stat
import sys
import tempfile
from functools import cache
from pathlib import Path

__all__ = ["PARENT_ENV", "REAL_CLI_ENV", "bundled_cli", "tether"]

REAL_CLI_ENV = "AGENTDECK_CLI"
PARENT_ENV = "AGENTDECK_CLI_PARENT"

#: Arms the death signal, then runs the rest of the command line (``setpriv`` missing: Python).
_PRCTL = (
    "import ctypes,os,sys; "
    "ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0) == 0 or sys.exit(126); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
#: After arming: still the child of the process that started it? Then become the CLI.
_CHECK = (
    f'p=${PARENT_ENV}; unset {REAL_CLI_ENV} {PARENT_ENV}; [ "$PPID" = "$p" ] || exit 129; exec "$@"'
)


def _script() -> str:
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        arm = f"{shlex.quote(setpriv)} --pdeathsig KILL --"
    else:
        arm = f"{shlex.quote(sys.executable)} -I -S -c {shlex.quote(_PRCTL)}"
    return (
        "#!/bin/sh\n"
        "# Written by agentdeck (workflows/tether.py): the Claude Code CLI named by\n"
        f"# ${REAL_CLI_ENV} gets SIGKILL when the process that started it dies.\n"
        f'exec {arm} /bin/sh -c {shlex.quote(_CHECK)} agentdeck-claude "${REAL_CLI_ENV}" "$@"\n'
    )


def _private_dir() -> Path:
    """``$TMPDIR/agentdeck-<uid>`` if it is this user's own 0700 directory, else a fresh one."""
    uid = os.getuid()
    where = Path(tempfile.gettempdir()) / f"agentdeck-{uid}"
    try:
        where.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(where)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077:
            return where
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="agentdeck-cli-"))


@cache
def _wrapper() -> str | None:
    """The wrapper's path (written if missing), or None when it cannot be written."""
    text = _script()
    try:
        path = _private_dir() / f"claude-tethered-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            tmp.chmod(0o700)
            tmp.replace(path)  # atomic: a CLI being started never sees half a script
        return str(path)
    except OSError:
        return None


def bundled_cli() -> str | None:
    """The CLI the SDK would start: its bundled one, else ``claude`` on ``PATH``."""
    import claude_agent_sdk

    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    if bundled.is_file():
        return str(bundled)
    return shutil.which("claude")


def tether(cli_path: str | None) -> tuple[str | None, dict[str, str]]:
    """The ``cli_path`` to give the SDK for ``cli_path`` (None: the SDK's own choice), and the
    environment the wrapper reads; unchanged when the CLI cannot be tethered here."""
    if not sys.platform.startswith("linux"):
        return cli_path, {}
    real = cli_path or bundled_cli()
    if real is None or not os.access(real, os.X_OK) or not Path(real).is_file():
        return cli_path, {}  # the SDK reports a missing CLI in its own words
    wrapper = _wrapper()
    if wrapper is None:
        return cli_path, {}
    return wrapper, {REAL_CLI_ENV: os.path.abspath(real), PARENT_ENV: str(os.getpid())}
