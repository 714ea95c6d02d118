"""Install iadbench and its extras into a virtual environment for `make`: uv, else pip.

pip took 103 s to install the pinned extras into an empty venv on 2 cores (2026-12-08); uv,
given the same indexes, wheel folders and constraints, took 42 s with an empty cache and 30 s
with a warm one, and installed the same 147 distributions at the same versions (``pip freeze``
compared). uv "does not read configuration files or environment variables that are specific to
pip, like pip.conf or PIP_INDEX_URL" (docs.astral.sh/uv/pip/compatibility), so this script
reads pip's effective configuration (``pip config list``: files and ``PIP_*`` variables) and
passes what decides *which* files are installed to uv as arguments. A setting it cannot carry
over, or any failure of uv, falls back to pip, which reads its configuration itself.

Usage: ``python tools/install_venv.py VENV CONSTRAINTS EXTRAS`` (the Makefile's ``venv``).
Stdlib only: it runs before the venv has anything in it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: pip options that change nothing about which files get installed (output, prompts, caching).
HARMLESS = frozenset({
    "disable-pip-version-check", "quiet", "verbose", "progress-bar", "no-color", "no-cache-dir",
    "cache-dir", "root-user-action", "no-input", "require-virtualenv", "no-python-version-warning",
    "retries", "log",
})  # fmt: skip
#: pip options carried over to uv (a value may list several, separated by white space).
LISTED = {"extra-index-url": "--extra-index-url", "find-links": "--find-links",
          "constraint": "--constraint", "trusted-host": "--allow-insecure-host"}  # fmt: skip
#: Sections pip reads for `pip install`, lowest precedence first (``:env:`` is PIP_*).
SECTIONS = ("global", "install", ":env:", ":env-var:")


@dataclass
class UvPlan:
    """What uv needs to install as pip would: arguments, environment, or why it cannot."""

    arguments: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None


def effective_options(config_list: str) -> dict[str, str]:
    """The effective ``pip install`` options in ``pip config list`` output (later ones win)."""
    found: dict[tuple[str, str], str] = {}
    for line in config_list.splitlines():
        key, sep, raw = line.partition("=")
        section, dot, name = key.rpartition(".")
        if not sep or not dot or section not in SECTIONS:
            continue
        found[section, name] = ast.literal_eval(raw) if raw[:1] in "'\"" else raw
    options: dict[str, str] = {}
    for section in SECTIONS:
        options.update({name: value for (where, name), value in found.items() if where == section})
    return options


def uv_plan(options: dict[str, str]) -> UvPlan:
    """Translate pip's options to uv's; ``refusal`` names the first that uv cannot honour."""
    plan = UvPlan()
    for name, value in sorted(options.items()):
        if name in LISTED:
            for item in value.split():
                plan.arguments += [LISTED[name], item]
        elif name == "index-url":
            plan.arguments += ["--index-url", value]
        elif name == "no-index" and value.lower() in {"1", "true", "yes", "on"}:
            plan.arguments.append("--no-index")
        elif name == "cert":
            plan.environment["SSL_CERT_FILE"] = value
        elif name in {"timeout", "default-timeout"}:
            plan.environment["UV_HTTP_TIMEOUT"] = value
        elif name not in HARMLESS:
            return UvPlan(refusal=f"pip's setting {name!r} has no uv equivalent here")
    # pip takes the best version across all indexes; uv's default takes the first index that
    # has the package at all (docs.astral.sh/uv/pip/compatibility, "Packages that exist on
    # multiple indexes").
    plan.arguments += ["--index-strategy", "unsafe-best-match"]
    return plan


def _run(command: list[str], environment: dict[str, str] | None = None) -> bool:
    return subprocess.run(command, env={**os.environ, **(environment or {})}).returncode == 0


def install(venv: Path, constraints: str, extras: str) -> None:
    """Create ``venv`` when missing and install ``.[extras]`` into it, editable."""
    python = venv / "bin" / "python"
    if not python.exists() and not _run([sys.executable, "-m", "venv", str(venv)]):
        sys.exit(f"could not create the virtual environment {venv}")
    pip = [str(python), "-m", "pip"]
    target = ["-c", constraints, "-e", f".[{extras}]"]
    listed = subprocess.run([*pip, "config", "list"], capture_output=True, text=True)
    plan = uv_plan(effective_options(listed.stdout))
    if plan.refusal is None and _run([*pip, "install", "--quiet", "uv"]):
        uv = [str(venv / "bin" / "uv"), "pip", "install", "--python", str(python), "--quiet"]
        # --compile-bytecode: like pip, and needed where PYTHONDONTWRITEBYTECODE=1 is set
        # (these machines): without cached bytecode every test process compiles torch again.
        command = [*uv, "--compile-bytecode", *plan.arguments, *target]
        if _run(command, plan.environment):
            return
        print("uv could not install the environment; installing with pip", file=sys.stderr)
    elif plan.refusal is not None:
        print(f"installing with pip: {plan.refusal}", file=sys.stderr)
    if not (_run([*pip, "install", "--quiet", "--upgrade", "pip"])
            and _run([*pip, "install", "--quiet", *target])):  # fmt: skip
        sys.exit("pip could not install the environment (its messages are above)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    install(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
