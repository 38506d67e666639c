"""Files a config names, checked before they are read: the config file itself and what a path points to.

A path that is a folder, a named pipe or a device is "not a regular file", not "not found": the
messages say what the path is, so the user fixes the right thing.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from ipsbayes.errors import ConfigError


def expand_home(path: Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` replaced by that home folder (unchanged when there is none)."""
    if not str(path).startswith("~"):
        return path
    try:
        return path.expanduser()
    except RuntimeError:  # no home folder known for that user: the "not found" message shows the path as given
        return path


def not_a_regular_file(path: Path, wanted: str = "a .csv/.parquet file") -> str | None:
    """Why ``path`` cannot be read as a data file, or None when it is a regular file.

    A folder, a named pipe (FIFO), a device or a socket is not "not found": the message says what
    the path is, so that the user fixes the right thing (reading a FIFO or ``/dev/zero`` would also
    block or never end).

    Parameters
    ----------
    path : Path
        The path to check (symbolic links are followed).
    wanted : str
        What the path should be, for the message.

    Returns
    -------
    str or None
        The problem, naming the path, or None.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return f"file not found: {path}"
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or type(exc).__name__})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return f"{path} is a folder, not {wanted}"
    kinds = [
        (stat.S_ISFIFO, "a named pipe, FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"{path} is not a regular file ({kind}); give {wanted}"


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into a ConfigError naming the file."""
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the config file (a .toml file) inside it")
    if not path.is_file():
        problem = not_a_regular_file(path, "a config file (a .toml file)")
        if problem is None or problem.startswith("file not found"):
            home = " ('~' is not expanded inside quotes: write the full path)" if str(path).startswith("~") else ""
            raise ConfigError(f"Config file not found: {path}{home}")
        raise ConfigError(problem)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); the file was probably saved "
            "as Latin-1 or Windows-1252: save it as UTF-8 (in most editors: Save as... > Encoding: UTF-8)"
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    if nul := list(dict.fromkeys(key for key, value in _strings(raw) if "\x00" in key or "\x00" in value)):
        raise ConfigError(
            f"{path}: {', '.join(repr(k) for k in nul[:5])} {'holds' if len(nul) == 1 else 'hold'} a NUL character "
            "(\\u0000), which no file name, column or label can contain; remove it"
        )
    return raw


def _strings(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every (dotted key, string value) of a parsed TOML document, keys themselves included as values."""
    out: list[tuple[str, str]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        dotted = f"{prefix}{key}" if isinstance(node, dict) else f"{prefix[:-1]}[{key}]"
        if isinstance(value, str):
            out.append((dotted, value))
        elif isinstance(value, dict | list):
            out += _strings(value, f"{dotted}.")
        if isinstance(node, dict):
            out.append((dotted, ""))  # the key itself
    return out


__all__ = ["expand_home", "not_a_regular_file", "read_toml"]
