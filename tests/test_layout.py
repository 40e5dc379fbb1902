"""The tree stays readable: no import cycles, packages in their order, small modules, and the
same files in every integration package."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connector", "integrations", "automations")  # each may import those after it only
MAX_LINES = 400
# Alembic revisions are history: a deployed database knows them by id, they are never edited.
NOT_MODULES = ("connector/migrations/versions/",)
INTEGRATION_FILES = ("__init__.py", "client.py", "webhooks.py", "schemas.py", "install.py", "sandbox")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


def test_no_module_imports_itself_back_through_others(graph):
    # given every import in the project, at module level or inside a function
    cycles = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.add(" -> ".join((importer, *back)))
    # then no chain of imports leads back to where it started
    assert sorted(cycles) == []


def test_packages_import_only_downwards(graph):
    # connector -> integrations -> automations: an arrow back up is a bug
    illegal = graph.find_illegal_dependencies_for_layers(layers=PACKAGES)
    assert [f"{d.importer} -> {d.imported}: {d.routes}" for d in illegal] == []


def test_no_module_is_over_the_size_limit():
    too_long = {}
    for folder in (*PACKAGES, "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(NOT_MODULES):
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                too_long[relative] = lines
    assert too_long == {}


def test_every_integration_package_has_the_same_files():
    packages = [p for p in (ROOT / "integrations").iterdir() if (p / "__init__.py").exists()]
    assert {p.name for p in packages} >= {"shopify", "hubspot", "twilio"}
    missing = {p.name: [f for f in INTEGRATION_FILES
                        if not (p / f).exists() and not (p / f"{f}.py").exists()]
               for p in packages}
    assert {name: files for name, files in missing.items() if files} == {}
