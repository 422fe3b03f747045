"""Contracts every adapter and module keeps: registry, data folders, import layering."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from vigil import sources
from vigil.ingest import plan_folder
from vigil.sources.base import Adapter, Reader
from vigil.store.migrations import RECORD_KINDS

SRC = Path(__file__).resolve().parents[1] / "src" / "vigil"
ADAPTERS = sources.all_adapters()


@pytest.mark.parametrize("adapter", ADAPTERS, ids=[a.name for a in ADAPTERS])
def test_adapter_contract(adapter: Adapter, shared_data: Path) -> None:
    assert sources.get(adapter.name) is adapter
    assert adapter.description and adapter.live_help
    assert adapter.readers and all(isinstance(r, Reader) for r in adapter.readers)
    assert all(r.kind in RECORD_KINDS and r.label for r in adapter.readers)
    for folder in adapter.folders:
        assert (shared_data / folder).is_dir(), f"{adapter.name}: no folder {folder}"
        assert adapter.files_in(shared_data / folder), f"{adapter.name} reads nothing in {folder}"


def test_every_data_folder_has_exactly_one_adapter(shared_data: Path) -> None:
    claims = [f for a in ADAPTERS for f in a.folders]
    assert len(claims) == len(set(claims))
    folders = {p.name for p in shared_data.iterdir() if p.is_dir()}
    assert folders == set(claims)


def test_folder_plan_accounts_for_every_file(shared_data: Path) -> None:
    work, skipped = plan_folder(shared_data, ADAPTERS)
    planned = {str(p) for _, p in work}
    left = {s.path for s in skipped}
    assert not planned & left
    every = {str(p) for p in shared_data.rglob("*") if p.is_file()}
    docs = {p for p in every if Path(p).name.upper().startswith(("README", "LICEN"))}
    assert every - docs == planned | left
    assert all(s.reason for s in skipped)


def test_unknown_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "new_source").mkdir()
    (tmp_path / "new_source" / "data.csv").write_text("a\n1\n")
    work, skipped = plan_folder(tmp_path, ADAPTERS)
    assert work == []
    assert [s.path for s in skipped] == [str(tmp_path / "new_source")]
    assert "no adapter recognises this folder" in skipped[0].reason


# Which vigil modules each part may import: data flows one way (ARCHITECTURE.md).
ALLOWED = {
    "errors": set(),
    # the one YAML loader of every file a user edits (duplicate keys, did-you-mean)
    "yamlload": {"errors"},
    # neutralising control and bidi characters in every rendering of source text
    "display": set(),
    # the SVG charts of every HTML page (dashboard, indicator and scenario pages)
    "charts": {"display", "charts"},
    # files written whole or not at all (notes, caches)
    "files": set(),
    # rule patterns: Python syntax, matched by RE2 in linear time
    "patterns": set(),
    # the one parser of the dates a user types
    "dates": {"errors"},
    "settings": {"errors"},
    # country codes and the event taxonomy, read by every layer
    "reference": {"errors", "settings", "reference"},
    # (files: the published snapshot's metadata is written whole or not at all)
    "store": {"errors", "settings", "store", "files"},
    # the evidence queries, expressed once (Ibis), and the engines that run them
    "query": {"errors", "settings", "store", "files", "query"},
    "sources": {"errors", "settings", "reference", "sources", "__init__", "files"},
    "ingest": {"errors", "settings", "sources", "store", "__init__"},
    # an analyst's own evidence: documents (extracted, stored, matched) and graded notes
    "documents": {"errors", "settings", "store", "text", "documents", "__init__", "yamlload"},
    "analyst": {
        "errors", "files", "settings", "theatre", "store", "analyst", "__init__", "yamlload",
    },
    # how far each source reaches: the default as-of date and every output's evidence base
    "coverage": {"errors", "settings", "theatre", "store", "query"},
    # the theatre spec: indicators, rules, sources (one YAML file per theatre)
    "theatre": {"errors", "settings", "reference", "patterns", "yamlload"},
    "geo": {"errors", "settings", "theatre", "store", "geo", "files", "query"},
    "text": {"errors", "settings", "theatre", "store", "text", "patterns", "query"},
    "indicators": {
        "errors", "settings", "theatre", "store", "text", "geo", "indicators", "reference",
        "charts", "query",
    },
    # resolvers count events with the indicators' own rule matching (layer 4 below)
    "scenarios": {
        "errors", "settings", "theatre", "store", "indicators", "scenarios", "charts", "query",
    },
    "briefing": {"errors", "display", "briefing"},
    "forecast": {"errors", "settings", "theatre", "store", "geo", "forecast", "files"},
    # alert rules, their evaluation, storage and delivery (stdout, JSON lines, webhook, SMTP)
    "alerts": {
        "errors", "settings", "theatre", "store", "yamlload", "files", "display", "dates",
        "alerts", "sources", "briefing", "scenarios",
    },
    # the workflows: compose every layer below; never print, parse options or serve HTTP
    "service": {
        "errors", "settings", "dates", "theatre", "store", "text", "geo", "indicators",
        "scenarios", "analyst", "coverage", "briefing", "forecast", "documents", "service",
        "display", "files", "reference", "sources", "ingest", "alerts", "query",
    },
    # the public Python API: one Workspace over the service layer
    "api": {
        "errors", "settings", "dates", "theatre", "store", "ingest", "sources", "indicators",
        "scenarios", "analyst", "coverage", "documents", "text", "geo", "forecast", "service",
        "files", "briefing", "alerts", "query",
    },
    # the shells: parse, call the API, render; never compose a workflow themselves
    "web": {
        "errors", "settings", "dates", "theatre", "store", "geo", "indicators", "scenarios",
        "service", "briefing", "web", "coverage", "display", "api", "charts", "alerts",
    },
    "cli": {
        "errors", "settings", "dates", "sources", "store", "ingest", "theatre", "api",
        "service", "indicators", "scenarios", "forecast", "briefing", "web", "cli",
        "__init__", "analyst", "documents", "text", "coverage", "display", "files", "alerts",
    },
}  # fmt: skip


def _vigil_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vigil"):
            parts = node.module.split(".")
            if len(parts) == 1:  # from vigil import x
                found |= {a.name for a in node.names}
            else:
                found.add(parts[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("vigil.")}
    return found - {"__version__"}


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_reaches_upward(path: Path) -> None:
    rel = path.relative_to(SRC)
    part = rel.parts[0].removesuffix(".py")
    if part == "__init__":
        return
    imports = _vigil_imports(path)
    imports.discard("__init__")
    assert imports <= ALLOWED[part] | {"__init__"}, f"{rel} imports {imports - ALLOWED[part]}"


@pytest.mark.parametrize("shell", ["cli", "web"])
def test_shells_share_no_private_helpers(shell: str) -> None:
    """A command or route never reaches into another module's private helpers: what two
    shells share is public (``cli.common``, the API), so a workflow cannot hide in one."""
    for path in (SRC / shell).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vigil"):
                private = [
                    a.name for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]  # fmt: skip
                assert not private, f"{path.name} imports {private} from {node.module}"


def test_the_shells_compose_no_workflow() -> None:
    """The shells call the API (or the service layer for a dashboard view), never the
    scenario model's or the briefing's composition functions directly."""
    composing = {"vigil.service.assess", "vigil.briefing.document", "vigil.scenarios.bayes"}
    for shell in ("cli", "web"):
        for path in (SRC / shell).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module in composing:
                    names = {a.name for a in node.names}
                    # constants and number formatting are shared; composition is not
                    allowed = {"NOW_DAYS", "note_item", "pct", "number"}
                    assert names <= allowed, f"{path.name}: {node.module} {names}"


def test_adapters_do_not_import_each_other() -> None:
    shared = {"base", "http", "tabular", "series"}
    names = {a.name for a in ADAPTERS}
    for path in (SRC / "sources").glob("*.py"):
        if path.stem in shared | {"__init__"}:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "vigil.sources":
                others = {a.name for a in node.names} & names
                # acled_api / rss_feed are private helpers of their own adapter
                assert not others, f"{path.name} imports adapter(s) {others}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "vigil.sources."
            ):
                target = node.module.split(".")[2]
                assert target in shared or target.startswith(path.stem.split("_")[0]), (
                    f"{path.name} imports vigil.sources.{target}"
                )


def test_every_guarantee_names_a_test_that_exists() -> None:
    """docs/GUARANTEES.md backs each promise with a named test; a renamed or deleted test
    must not leave a promise backed by nothing."""
    section = (SRC.parents[1] / "docs" / "GUARANTEES.md").read_text()
    tests = SRC.parents[1] / "tests"
    named, current = [], None
    for file, name in re.findall(r"`(?:(test_\w+\.py))?(?:::(test_\w+))?`", section):
        current = file or current
        if file or name:
            named.append((current, name))
    assert len(named) >= 20
    for file, name in named:
        path = tests / file
        assert path.is_file(), f"docs/GUARANTEES.md names {file}, which does not exist"
        if name:
            assert re.search(rf"^def {name}\(", path.read_text(), re.M), f"{file}::{name}"
