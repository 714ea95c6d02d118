"""tools/install_venv.py: uv installs what pip's configuration would, or pip installs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "tools" / "install_venv.py"
_SPEC = importlib.util.spec_from_file_location("install_venv", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
install_venv = importlib.util.module_from_spec(_SPEC)
sys.modules["install_venv"] = install_venv  # dataclasses look their module up by name
_SPEC.loader.exec_module(install_venv)

#: `pip config list` on the project's machines (2026-12-08).
MACHINE = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.disable-pip-version-check='1'
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/wheels'
"""


def test_the_machines_configuration_reaches_uv() -> None:
    plan = install_venv.uv_plan(install_venv.effective_options(MACHINE))
    assert plan.refusal is None
    pairs = list(zip(plan.arguments[::2], plan.arguments[1::2], strict=True))
    assert ("--constraint", "/etc/xdg/pip/constraints.txt") in pairs
    assert ("--extra-index-url", "file:///opt/pypi/simple") in pairs
    assert ("--extra-index-url", "file:///opt/pypi-more/simple") in pairs
    assert pairs.count(("--find-links", "/opt/wheels")) == 1
    assert ("--index-strategy", "unsafe-best-match") in pairs  # pip's choice across indexes
    assert plan.environment == {
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
        "UV_HTTP_TIMEOUT": "180",
    }


def test_environment_variables_override_files_and_other_commands_are_ignored() -> None:
    listed = (
        ":env:.index-url='https://mirror.example/simple'\n"
        "download.find-links='/only/for/download'\n"
        "global.index-url='https://files.example/simple'\n"
        "install.no-index='true'\n"
    )
    options = install_venv.effective_options(listed)
    assert options == {"index-url": "https://mirror.example/simple", "no-index": "true"}
    plan = install_venv.uv_plan(options)
    assert plan.arguments[:3] == ["--index-url", "https://mirror.example/simple", "--no-index"]


def test_install_section_overrides_global() -> None:
    listed = "install.find-links='/b'\nglobal.find-links='/a'\n"
    assert install_venv.effective_options(listed) == {"find-links": "/b"}


def test_a_setting_uv_cannot_honour_sends_the_install_to_pip() -> None:
    plan = install_venv.uv_plan({"find-links": "/w", "client-cert": "/me.pem"})
    assert plan.refusal is not None and "client-cert" in plan.refusal


class _Recorder:
    def __init__(self, failing: str | None) -> None:
        self.commands: list[list[str]] = []
        self.failing = failing

    def __call__(self, command: list[str], environment: dict[str, str] | None = None) -> bool:
        self.commands.append(command)
        return not (self.failing and self.failing in command[0])


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").touch()
    return tmp_path


def _installers(commands: list[list[str]]) -> list[str]:
    return ["uv" if command[0].endswith("/uv") else "pip" for command in commands
            if "install" in command and "uv" not in command[-1:]]  # fmt: skip


@pytest.mark.parametrize(("failing", "installers"), [(None, ["uv"]), ("/uv", ["uv", "pip", "pip"])])
def test_uv_installs_and_pip_takes_over_when_uv_fails(
    venv: Path, monkeypatch: pytest.MonkeyPatch, failing: str | None, installers: list[str]
) -> None:
    recorder = _Recorder(failing)
    monkeypatch.setattr(install_venv, "_run", recorder)
    monkeypatch.setattr(
        install_venv.subprocess, "run",
        lambda *a, **k: install_venv.subprocess.CompletedProcess(a, 0, MACHINE, ""),
    )  # fmt: skip
    install_venv.install(venv, "constraints.txt", "dev")
    assert _installers(recorder.commands) == installers
    uv_install = next(command for command in recorder.commands if command[0].endswith("/uv"))
    find_links = uv_install.index("--find-links")
    assert uv_install[find_links : find_links + 2] == ["--find-links", "/opt/wheels"]
    assert "--compile-bytecode" in uv_install  # PYTHONDONTWRITEBYTECODE=1: nothing cached later
    assert uv_install[-4:] == ["-c", "constraints.txt", "-e", ".[dev]"]


def test_a_setting_uv_cannot_honour_installs_with_pip_alone(
    venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder(None)
    monkeypatch.setattr(install_venv, "_run", recorder)
    listed = MACHINE + "global.client-cert='/me.pem'\n"
    monkeypatch.setattr(
        install_venv.subprocess, "run",
        lambda *a, **k: install_venv.subprocess.CompletedProcess(a, 0, listed, ""),
    )  # fmt: skip
    install_venv.install(venv, "constraints.txt", "dev")
    # Neither uv installed nor run: every command is pip's, none names uv.
    commands = recorder.commands
    assert all(command[1:3] == ["-m", "pip"] and "uv" not in command for command in commands)
    assert recorder.commands[-1][-4:] == ["-c", "constraints.txt", "-e", ".[dev]"]
