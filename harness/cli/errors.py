"""What the ``harness`` command treats as an expected failure, and how it says it in one line.

Expected failures are bad input and an unusable environment: unknown names and malformed values
(``KeyError``, ``ValueError`` incl. :class:`harness.config.ConfigError`), paths that cannot be read or
written (``OSError``), plugins that do not import (``ImportError``, ``SyntaxError``). The top-level handler
of :func:`harness.cli.main` prints them as ``harness <command>: error: <text>`` and exits with code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

#: Exception types the CLI reports in one line (exit code 2).
EXPECTED: tuple[type[BaseException], ...] = (
    KeyError, ValueError, TypeError, OSError, ImportError, SyntaxError,
)


def error_text(err: BaseException) -> str:
    """One line for ``err``: its message without ``KeyError``'s quotes, OS errors with their path."""
    if isinstance(err, OSError) and err.strerror:
        where = f": {err.filename!r}" if err.filename is not None else ""
        return f"{err.strerror}{where}"
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:2000]
