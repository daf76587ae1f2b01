"""Read access to the knowledge base in ``metadata/``, installed as ``automl.metadata``."""

from __future__ import annotations

import json
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any


def metadata_root() -> Traversable:
    """The folder of the knowledge base, installed or in a source checkout."""
    try:
        return resources.files("automl.metadata")
    except ModuleNotFoundError:  # a source checkout, where setuptools' mapping is not in place
        return Path(__file__).resolve().parent.parent / "metadata"


def read_manifest() -> dict[str, Any]:
    """The knowledge base's manifest: schema version, pipeline format, contents."""
    return json.loads(metadata_root().joinpath("manifest.json").read_text())
