"""The FastAGI command line: quoting arguments the way Asterisk's res_agi splits them.

Invariants:
  - ``split_command_line(format_command(name, *args))`` gives back the name's words and
    ``args`` exactly (Asterisk's parse_args: spaces and tabs separate words outside double
    quotes, ``"`` toggles quoting, a backslash makes the next character literal).
  - A newline, CR or NUL in an argument, a malformed name, or a line longer than Asterisk
    reads in one go raises ``LocalProtocolError``: nothing is produced.
"""

from __future__ import annotations

import re

# Asterisk reads a command with fgets into a 2048-byte buffer (AGI_BUF_LEN): a longer line is
# cut and its tail runs as a second command, so we refuse to write one.
MAX_COMMAND_BYTES = 2047
_COMMAND_NAME = re.compile(r"[A-Za-z][A-Za-z_]*(?: [A-Za-z][A-Za-z_]*)*\Z")
_NEEDS_QUOTES = frozenset(' \t"\\')
_FORBIDDEN_IN_ARGS = frozenset("\n\r\x00")


class AgiProtocolError(Exception):
    """Base of the wire errors."""


class LocalProtocolError(AgiProtocolError):
    """We misused the protocol (our bug): nothing was sent and the state is unchanged."""


def quote_argument(arg: str) -> str:
    """Quote ``arg`` for Asterisk's argument parser (double quotes, backslash escapes)."""
    if not isinstance(arg, str):
        raise LocalProtocolError(f"AGI arguments must be str, not {type(arg).__name__}")
    if _FORBIDDEN_IN_ARGS.intersection(arg):
        raise LocalProtocolError(f"AGI argument contains a newline, CR or NUL: {arg!r}")
    if arg and not _NEEDS_QUOTES.intersection(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(name: str, *args: str, max_bytes: int = MAX_COMMAND_BYTES) -> bytes:
    """The command line for ``name`` (e.g. ``"STREAM FILE"``) with quoted ``args``."""
    if not isinstance(name, str) or not _COMMAND_NAME.match(name):
        raise LocalProtocolError(f"not an AGI command name: {name!r}")
    return encode_command(name, args, max_bytes)


def encode_command(name: str, args: tuple[str, ...], max_bytes: int = MAX_COMMAND_BYTES) -> bytes:
    """``format_command`` for a name already validated (the hot path)."""
    line = (" ".join([name, *map(quote_argument, args)]) + "\n").encode("utf-8")
    if len(line) > max_bytes:
        raise LocalProtocolError(
            f"AGI command line is {len(line)} bytes; Asterisk reads at most {max_bytes}"
        )
    return line


def split_command_line(line: str) -> list[str]:
    """Split a command line the way Asterisk's res_agi does (used by fakes and tests):
    spaces/tabs separate words outside quotes, ``"`` toggles quoting (and starts a word
    after whitespace), a backslash makes the next character literal."""
    words: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
                words.append("")
        elif ch in " \t" and not quoted and not escaped:
            if current is not None:
                words[-1] = "".join(current)
            current = None
        elif ch == "\\" and not escaped:
            escaped = True
            continue
        else:
            if current is None:
                current = []
                words.append("")
            current.append(ch)
        escaped = False
    if current is not None:
        words[-1] = "".join(current)
    return words
