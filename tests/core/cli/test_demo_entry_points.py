"""``iadbench demo --learn`` finds its demo through the ``iadbench.demos`` entry points.

The core imports no method package (``tests/core/test_architecture.py``); the demo is declared in
package metadata. Nothing is installed here: a fake ``*.dist-info`` on PYTHONPATH declares it,
as ``test_list_imports_nothing.py`` does for methods.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from iadbench.contract.demos import DEMO_GROUP

CLI = str(Path(sys.executable).parent / "iadbench")
REPO = Path(__file__).resolve().parents[3]

_MODULE = '''\
import json
from pathlib import Path

from iadbench.contract.demos import DemoTable


def demo(workdir, *, seeds, cache_dir, log):
    log("fake demo running")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    (Path(workdir) / "called.json").write_text(json.dumps({"seeds": list(seeds)}))
    return DemoTable("Fake proof", ("rewards", "seed"), [("true", str(s)) for s in seeds])
'''


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The fake distribution first (the first declaration of a demo name wins, and the checkout
    # may hold iadbench.egg-info declaring the real one), then the checkout under test.
    path = os.pathsep.join([str(root), str(REPO)])
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "200", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_demo_learn_runs_the_demo_a_package_declares(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_demo.py").write_text(_MODULE)
    info = site / "fake_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{DEMO_GROUP}]\nlr-iad-learning-proof = fake_demo:demo\n"
    )
    result = _cli(site, "demo", "--learn", "--seeds", "3,4", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    called = json.loads((tmp_path / "out" / "learning-proof" / "called.json").read_text())
    assert called == {"seeds": [3, 4]}
    assert "fake demo running" in result.stdout and "Fake proof" in result.stdout


def test_a_missing_demo_says_to_reinstall(monkeypatch):
    import pytest

    from iadbench.contract.errors import IADBenchError
    from iadbench.execution.registry import installed_demo

    with pytest.raises(IADBenchError, match="no installed package provides the demo 'nothing'"):
        installed_demo("nothing")
