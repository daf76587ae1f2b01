"""The knowledge base in metadata/ ships with the package and reads back."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from automl.knowledge import read_manifest
from tests.helpers import REPO


def test_the_manifest_reads_from_a_checkout():
    manifest = read_manifest()
    assert manifest["schema_version"] == 1 and manifest["pipeline_format"] == 1


def test_a_built_wheel_carries_the_knowledge_base_and_the_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("automl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "automl/metadata/manifest.json" in names
    assert "cli.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "automl = cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
