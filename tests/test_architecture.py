"""The structure the README's "Architecture" section describes, checked on the code itself:
the layers (import-linter, inside functions too), an acyclic app graph, no app importing another
app's private names, and one place that assigns a case's status."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("collections_crm", "cases", "contacts", "debtors")
# Django apps by package, the project package last (it holds the apps under collections_crm/).
APPS = sorted(
    ["cases", "contacts", "debtors", *(f"collections_crm.{p.name}" for p in (ROOT / "collections_crm").iterdir()
                                       if (p / "apps.py").exists())],
    key=len, reverse=True,
)


def app_of(module: str) -> str | None:
    return next((app for app in APPS if module == app or module.startswith(app + ".")), None)


def source_files(root: Path = ROOT):
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def module_name(path: Path, root: Path = ROOT) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def lint(root: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_layers_contract_holds():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_the_layers_contract_fails_on_an_import_against_it_even_inside_a_function(tmp_path):
    """The contract is not a formality: the domain importing an interface, inside a function, is
    refused (on a copy of the code)."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    services = tmp_path / "cases" / "services.py"
    services.write_text(services.read_text() + "\n\ndef _sneaky():\n    from collections_crm.desk import views  # noqa\n")

    result = lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "cases is not allowed to import collections_crm.desk" in result.stdout


def _app_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(*PACKAGES)
    edges: dict[str, set[str]] = defaultdict(set)
    for importer in graph.modules:
        source = app_of(importer)
        for imported in graph.find_modules_directly_imported_by(importer):
            target = app_of(imported)
            if source and target and source != target:
                edges[source].add(target)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_app_import_graph_is_acyclic():
    edges = _app_graph()
    assert "cases" in edges and "contacts" in edges  # the graph was really built
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def private_cross_app_imports(tree: ast.AST, importer: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            source, target = app_of(importer), app_of(node.module)
            if source and target and source != target:
                found += [f"{importer}:{node.lineno} imports {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
                if any(part.startswith("_") for part in node.module.split(".")):
                    found.append(f"{importer}:{node.lineno} imports from {node.module}")
    return found


def test_no_module_imports_another_apps_private_names():
    found = [hit for path in source_files() for hit in private_cross_app_imports(ast.parse(path.read_text()), module_name(path))]
    assert found == []


def test_the_private_import_check_sees_one():
    tree = ast.parse("from cases.services import _lock_case\n")
    assert private_cross_app_imports(tree, "contacts.services") == ["contacts.services:1 imports cases.services._lock_case"]


# --- One write path for a case's status --------------------------------------------------------

STATUS_WRITERS = {("cases.services", "case_change"), ("cases.services", "cases_change_status")}


def _mentions_case(node: ast.AST) -> bool:
    return "case" in ast.unparse(node).lower()


def case_status_writes(tree: ast.AST, module: str) -> list[str]:
    """Places that write a case's status: ``<…case…>.status = …``, ``Case.objects….update(status=…)``
    (or bulk_update with "status"), and raw SQL updating cases_case's status, outside the writers."""
    hits = []

    def scan(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            where = f"{module}:{getattr(child, 'lineno', '?')}"
            allowed = (module, name) in STATUS_WRITERS
            if isinstance(child, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and not allowed:
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                for target in targets:
                    for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                        if isinstance(t, ast.Attribute) and t.attr == "status" and _mentions_case(t.value):
                            hits.append(f"{where} assigns {ast.unparse(t)}")
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and not allowed:
                receiver = ast.unparse(child.func.value)
                on_cases = "Case.objects" in receiver or "cases_case" in receiver
                if child.func.attr == "update" and on_cases and any(k.arg == "status" for k in child.keywords):
                    hits.append(f"{where} updates the status of {receiver}")
                if child.func.attr == "bulk_update" and on_cases and "status" in ast.unparse(child):
                    hits.append(f"{where} bulk-updates the status of cases")
            if isinstance(child, ast.Constant) and isinstance(child.value, str) and not allowed:
                sql = " ".join(child.value.split()).lower()
                if "update cases_case" in sql and "status" in sql.split("update cases_case", 1)[1].split("where")[0]:
                    hits.append(f"{where} updates cases_case.status in SQL")
            scan(child, name)

    scan(tree, "")
    return hits


def test_a_cases_status_is_written_only_by_the_one_function():
    found = [hit for path in source_files() for hit in case_status_writes(ast.parse(path.read_text()), module_name(path))]
    assert found == []


@pytest.mark.parametrize("code", [
    "def f(case):\n    case.status = 'paid'\n",
    "def f(self):\n    self.case.status, x = 'paid', 1\n",
    "def f(pk):\n    Case.objects.filter(pk=pk).update(status='active')\n",
    "def f(cur):\n    cur.execute('UPDATE cases_case SET status = %s WHERE id = %s', ['paid', 1])\n",
])
def test_the_status_check_sees_a_direct_write(code):
    assert case_status_writes(ast.parse(code), "contacts.engine.promises")


def test_the_status_check_allows_the_writer_and_other_statuses():
    writer = "def case_change(case):\n    case.status = 'paid'\n"
    assert case_status_writes(ast.parse(writer), "cases.services") == []
    other = "def f(plan, fu):\n    plan.status = 'active'\n    FollowUp.objects.filter(pk=1).update(status='done')\n"
    assert case_status_writes(ast.parse(other), "contacts.engine.execution") == []
