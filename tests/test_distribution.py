"""What `pip install .` gives a user: a wheel without tests, a LICENSE, and the sim extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_no_test_modules_and_ships_the_license(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy of the tracked files: setuptools writes build/ beside them
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        target = src / name.decode()
        if (ROOT / name.decode()).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name.decode(), target)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (wheel,) = tmp_path.glob("mcu_control-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    leaked = [n for n in names if Path(n).name.startswith("test_") or Path(n).name == "conftest.py"]
    assert leaked == []
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "hil/rig.py" in names and "profiles/sites/demo.yaml" in names  # the demo still works


def test_demo_without_the_sim_extra_exits_3_naming_it(tmp_path: Path) -> None:
    # sys.modules[name] = None is how Python marks a module as not importable
    code = "import sys; sys.modules['snmpsim'] = None; import cli; cli.main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "--state-dir", str(tmp_path), "demo", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "pip install 'mcu-control[sim]'" in result.stderr
    assert not (tmp_path / "audit.jsonl").exists()  # refused before anything started
