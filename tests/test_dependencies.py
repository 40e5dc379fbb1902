"""Installs are reproducible: requirements.lock pins every dependency pyproject.toml asks for, at
a version pyproject.toml accepts (run `make lock` after changing dependencies)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_every_dependency_is_pinned_at_a_version_pyproject_accepts():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    pins = _pins()
    missing = [str(r) for r in wanted if canonicalize_name(r.name) not in pins]
    refused = [f"{r.name}=={pins[canonicalize_name(r.name)]} (wants {r.specifier})" for r in wanted
               if canonicalize_name(r.name) in pins and pins[canonicalize_name(r.name)] not in r.specifier]
    assert (missing, refused) == ([], [])


def test_the_lock_names_no_index_or_path_of_a_machine():
    text = (ROOT / "requirements.lock").read_text()
    assert not re.search(r"^\s*--(?:extra-)?index-url|^\s*--find-links|file://", text, re.M)
