"""`iadbench` called in the test process, answering as the console script's subprocess would.

A fresh `iadbench` process costs about 2 s of CPU before it does anything (scikit-learn alone
1.45 s, 2026-12-07), most of `make test`'s budget for a file of a dozen runs. Tests whose point
is not the process itself (exit codes of a crash, signals, start-up imports, the console
script) call the CLI here: the same app, arguments and environment, captured by typer's runner.
"""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from iadbench.cli import app


def iadbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``iadbench ARGS`` in this process; returncode, stdout and stderr as a subprocess's."""
    result = CliRunner().invoke(app, list(args), env={"HF_HUB_OFFLINE": "1", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash shows its traceback here, as the process would
    return subprocess.CompletedProcess(
        ["iadbench", *args], result.exit_code, result.stdout, result.stderr
    )
