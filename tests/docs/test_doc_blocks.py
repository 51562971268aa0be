"""Every ```python block of README.md and docs/*.md runs against the Anaplan emulator, so none can drift.

How a block runs is said in the Markdown source, on the line right before its fence:

* ``<!-- doctest: setup=NAME -->`` — the block runs with the setup ``NAME`` of this module (see
  :data:`SETUPS`): a generator that prepares the namespace, files and source substitutions (the
  emulator's URLs for Anaplan's hosts, the seed user for placeholder credentials, local files for
  ``s3://`` URIs), lets the block run at its ``yield``, then checks what the block says it does.
* ``<!-- doctest: shape=NAME -->`` — the block shows the *shape* of a value (a literal with ``...``
  and type names, not runnable code): its keys, and the alternatives of any ``"a" | "b"`` value, are
  compared with a real value that ``NAME`` (see :data:`SHAPES`) produces against the emulator.
* ``<!-- doctest: skip: <reason> -->`` — not run; the reason is in the docs source. Keep these rare
  (a real Anaplan tenant, a browser).
* No marker, first line ``# <path>.py`` — a file of the reader's own project (the *Testing your DAGs*
  examples): the file blocks of one document form a temporary project; a ``conftest.py`` must enable
  plugins this session has loaded, a DAG file must define a DAG, and every ``test_*`` function of a
  test file is a test item of its own, called with the real fixtures of the provider's pytest plugin.
  (``tests/testing/test_user_project.py`` runs the same files in a child pytest, as a user would.)
* No marker otherwise — the block runs as is, in a temporary directory, with the emulator behind
  ``anaplan_default`` (the plugin's ``anaplan_connection``).

Blocks run with the Markdown file's line numbers (a traceback points into the docs) and may use
top-level ``await``. ``bash`` blocks are not run, but the make targets, console scripts (and their
options), scripts, modules and extras they name must exist; README links to repository files must be
absolute (they must work on a package index page) and point at files that exist.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import importlib.util
import inspect
import json
import re
import shlex
import textwrap
import tomllib
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<lang>[\w+-]*)[ \t]*$")
MARKER = re.compile(r"^\s*<!--\s*doctest:\s*(?P<spec>.*?)\s*-->\s*$")
FILE_BLOCK = re.compile(r"^# (?P<path>[\w./-]+\.py)$")

# files for the default seed's imports (docs/emulator.md, "Default seed")
PRODUCTS_CSV = "Product,Category,Discontinued\nP001,Hardware,false\nP601,Software,false\nP602,Services,true\n"
REVENUE_CSV = "Product,Month,Revenue\nP001,Jan 26,1250\nP001,Feb 26,1375\nP002,Jan 26,640\n"


# --------------------------------------------------------------------------------------- Markdown


@dataclasses.dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # the opening fence, 1-based
    lang: str
    body: str  # dedented
    marker: str | None

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"

    @property
    def file_path(self) -> str | None:
        """``tests/test_x.py`` for a block whose first line is ``# tests/test_x.py``."""
        match = FILE_BLOCK.match(self.body.split("\n", 1)[0])
        return match["path"] if match else None

    @property
    def mode(self) -> tuple[str, str]:
        """``("setup"|"shape", name)``, ``("skip", reason)``, ``("file", path)`` or ``("plain", "")``."""
        if self.marker is not None:
            spec = self.marker
            if spec.startswith("skip:") and spec[5:].strip():
                return "skip", spec[5:].strip()
            key, sep, name = spec.partition("=")
            if sep and key in ("setup", "shape") and re.fullmatch(r"\w+", name):
                return key, name
            raise ValueError(f"{self.id}: bad doctest marker {spec!r} (setup=NAME, shape=NAME or skip: reason)")
        if self.file_path:
            return "file", self.file_path
        return "plain", ""

    def code(self, source: str | None = None) -> types.CodeType:
        """The block (or a substituted version of it) compiled with the Markdown file's line numbers."""
        text = "\n" * self.line + (self.body if source is None else source)
        return compile(text, str(self.doc), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def parse_blocks(doc: Path) -> list[Block]:
    lines = doc.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != opening["ticks"]:
            end += 1
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(previous)
        indent = len(opening["indent"])
        body = "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[i + 1 : end])
        blocks.append(Block(doc, i + 1, opening["lang"], textwrap.dedent(body) + "\n", marker and marker["spec"]))
        i = end + 1
    return blocks


BLOCKS = [block for doc in DOCS for block in parse_blocks(doc)]
PYTHON_BLOCKS = [block for block in BLOCKS if block.lang == "python"]


def execute(block: Block, namespace: dict[str, Any], source: str | None = None) -> None:
    """Run a block like a module (top-level ``await`` allowed: the block then runs in an event loop)."""
    result = eval(block.code(source), namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)


# ------------------------------------------------------------------------------ per-block setups


class Ctx:
    """What a setup works with: the block's source (substitutable), its namespace, fixtures, a cwd."""

    def __init__(self, block: Block, request: pytest.FixtureRequest, cwd: Path) -> None:
        self.block = block
        self.request = request
        self.cwd = cwd
        self.source = block.body
        self.namespace: dict[str, Any] = {"__name__": "__doc_block__"}

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)

    @property
    def emulator(self) -> Any:
        """The plugin's ``anaplan_emulator`` (reset to its seed), with the client's token cache cleared."""
        from airflow_provider_anaplan.client import clear_token_cache

        emu = self.fixture("anaplan_emulator")
        clear_token_cache()
        return emu

    @property
    def airflow_emulator(self) -> Any:
        """The plugin's ``anaplan_connection``: the emulator reset, ``anaplan_default`` on it, the
        provider's state cleared (this imports Airflow)."""
        return self.fixture("anaplan_connection")

    def replace(self, old: str, new: str) -> None:
        """Substitute ``old`` (it must be in the block: if the docs changed, the setup must change too)."""
        assert old in self.source, f"{self.block.id}: the setup expects {old!r} in the block; update it"
        assert "\n" not in new, "keep the block's line numbers"
        self.source = self.source.replace(old, new)

    def emulator_hosts(self) -> None:
        """Anaplan's default hosts in the block -> the emulator's URLs."""
        emu = self.emulator
        for real, local in (
            ("https://api.anaplan.com/2/0", emu.api_url),
            ("https://auth.anaplan.com", emu.auth_url),
            ("https://us1a.app.anaplan.com", emu.oauth_url),
        ):
            if real in self.source:
                self.replace(real, local)


Setup = Callable[[Ctx], Iterator[None]]
SETUPS: dict[str, Setup] = {}
SHAPES: dict[str, Callable[[Ctx, dict[str, ast.expr]], dict[str, Any]]] = {}


def setup(name: str) -> Callable[[Setup], Setup]:
    def register(func: Setup) -> Setup:
        SETUPS[name] = func
        return func

    return register


def shape(name: str) -> Callable[[Any], Any]:
    def register(func: Any) -> Any:
        SHAPES[name] = func
        return func

    return register


def plain(ctx: Ctx) -> Iterator[None]:
    ctx.airflow_emulator  # noqa: B018 - the fixture's side effects: the emulator reset, anaplan_default on it
    yield


@setup("quickstart_dag")
def _quickstart_dag(ctx: Ctx) -> Iterator[None]:
    """README Quickstart: the DAG file, run with ``dag.test()`` (deferrable) against the emulator; the
    ``s3://bucket/`` and ``/data/`` files are local files here."""
    runner = ctx.fixture("anaplan_dag_runner")
    emu = ctx.airflow_emulator
    bucket, data = ctx.cwd / "bucket", ctx.cwd / "data"
    bucket.mkdir()
    data.mkdir()
    (bucket / "products.csv").write_text(PRODUCTS_CSV)
    (data / "revenue.csv").write_text(REVENUE_CSV)
    ctx.replace("s3://bucket/", f"file://{bucket}/")
    ctx.replace('"/data/revenue.csv"', f'"{data}/revenue.csv"')
    yield
    dag_file = ctx.cwd / "anaplan_nightly.py"
    dag_file.write_text(ctx.source, encoding="utf-8")
    dag_run = runner.run(dag_file)
    assert runner.states(dag_run) == {"load": "success", "export": "success"}
    load = runner.xcom(dag_run, "load")
    assert load["successful"] and [step["successful"] for step in load["steps"]] == [True, True]
    assert {item["name"] for item in emu.admin.list_items("101000000001")} >= {"P601", "P602"}
    exported = (bucket / "revenue_out.csv").read_text()
    assert runner.xcom(dag_run, "export")["bytes"] == len(exported.encode())
    assert "1250" in exported and "1375" in exported and "640" in exported
    assert emu.admin.counters()["tasks_created"] == {"118000000000": 1, "116000000000": 1}


@setup("client_basic")
def _client_basic(ctx: Ctx) -> Iterator[None]:
    """README "The client without Airflow": upload + import, export + download, stream the file (the
    emulator's hosts and seed user, and status polls every 0.2 s instead of 5 s)."""
    emu = ctx.emulator
    ctx.replace(
        'BasicCredentials("me@example.com", "…"),',
        f"BasicCredentials({emu.user!r}, {emu.password!r}), api_url={emu.api_url!r}, auth_url={emu.auth_url!r}, "
        "poll_interval=0.2,",
    )
    (ctx.cwd / "revenue.csv").write_text(REVENUE_CSV)
    yield
    cells = {(c["Product"], c["Month"]): c["value"] for c in emu.admin.module_cells("102000000001")}
    assert cells == {("P001", "Jan 26"): 1250, ("P001", "Feb 26"): 1375, ("P002", "Jan 26"): 640}
    exported = (ctx.cwd / "out.csv").read_text()
    assert exported.encode() == emu.admin.file_content("116000000000") and "1375" in exported
    assert emu.admin.counters()["tasks_created"] == {"112000000001": 1, "116000000000": 1}
    assert ctx.namespace["chunk"]  # the stream yielded the file


@setup("client_config")
def _client_config(ctx: Ctx) -> Iterator[None]:
    """docs/ARCHITECTURE.md: the options it shows as defaults are the defaults; both clients work."""
    from airflow_provider_anaplan.client import ClientConfig

    [call] = [
        node
        for node in ast.walk(ast.parse(ctx.source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ClientConfig"
    ]
    defaults = {
        f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        for f in dataclasses.fields(ClientConfig)
    }
    shown = {kw.arg: kw.value for kw in call.keywords if kw.arg not in ("credentials", "workspace_id", "model_id")}
    assert len(shown) >= 10
    for name, node in shown.items():
        value = eval(compile(ast.Expression(node), "<doc>", "eval"), {"RetryPolicy": type(defaults["retry"])})
        assert value == defaults[name], f"{ctx.block.id}: {name}={value!r} is shown as a default, it is {defaults[name]!r}"
    emu = ctx.emulator
    ctx.emulator_hosts()
    ctx.replace('BasicCredentials("u", "p")', f"BasicCredentials({emu.user!r}, {emu.password!r})")
    yield
    assert ctx.namespace["model"]["id"] == emu.model_id
    assert emu.admin.counters()["authentications"]["basic"] >= 1


@setup("emulator_server")
def _emulator_server(ctx: Ctx) -> Iterator[None]:
    """docs/emulator.md "From Python": the in-process server and the child process with a YAML fixture."""
    from airflow_provider_anaplan.testing.emulator.seed import default_fixture

    (ctx.cwd / "fixture.yaml").write_text(yaml.safe_dump(default_fixture()), encoding="utf-8")
    capsys = ctx.fixture("capsys")
    yield
    first, second = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first)
    url, api_url = second.split()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and api_url == f"{url}/2/0" and url != first
    assert set(ctx.namespace["counters"]) >= {"requests", "tasks_created"}


@setup("emulator_handle")
def _emulator_handle(ctx: Ctx) -> Iterator[None]:
    """docs/emulator.md fault examples: ``emu`` is the ``anaplan_emulator`` fixture; every rule is accepted."""
    emu = ctx.fixture("anaplan_emulator")
    ctx.namespace["emu"] = emu
    yield
    assert len(emu.admin.faults()["rules"]) == ctx.source.count(".add_fault(")


MY_DAG = '''
from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_anaplan.operators.imports import AnaplanImportOperator

with DAG(dag_id="my_dag", schedule=None, start_date=datetime(2026, 1, 1)):
    AnaplanImportOperator(task_id="load", import_id="112000000000", poll_interval=0.5,
                          uploads={"113000000000": b"Product,Category,Discontinued\\nP950,Hardware,false\\n"})
'''


@setup("airflow_stack")
def _airflow_stack(ctx: Ctx) -> Iterator[None]:
    """docs/deployment.md: a real api-server, scheduler, dag-processor and triggerer run ``my_dag``."""
    emu = ctx.airflow_emulator
    (ctx.cwd / "dags").mkdir()
    (ctx.cwd / "dags" / "my_dag.py").write_text(MY_DAG, encoding="utf-8")
    ctx.namespace["conn_json"] = emu.airflow_connection()
    capsys = ctx.fixture("capsys")
    yield
    assert ctx.namespace["state"] == "success"
    assert ctx.namespace["samples"][-1].state == "success"
    assert "'successful': True" in capsys.readouterr().out  # the printed XCom
    assert emu.admin.counters()["tasks_created"] == {"112000000000": 1}


@shape("trigger_event")
def _trigger_event(ctx: Ctx, documented: dict[str, ast.expr]) -> dict[str, Any]:
    """docs/airflow.md: the event of a real ``AnaplanTaskTrigger`` run against the emulator."""
    from airflow_provider_anaplan.hooks.anaplan import AnaplanAsyncHook
    from airflow_provider_anaplan.triggers.task import EVENT_STATUSES, AnaplanTaskTrigger

    ctx.airflow_emulator  # noqa: B018 - anaplan_default on the emulator
    assert union_alternatives(documented["status"]) == set(EVENT_STATUSES)

    async def one_event() -> dict[str, Any]:
        hook = AnaplanAsyncHook()
        try:
            await hook.upload_file("113000000000", PRODUCTS_CSV.encode())
            task_id = await hook.start_task("112000000000")
        finally:
            await hook.aclose()
        trigger = AnaplanTaskTrigger(
            anaplan_conn_id="anaplan_default", action_id="112000000000", task_id=task_id, poll_interval=0.1
        )
        [event] = [event.payload async for event in trigger.run()]
        return event

    event = asyncio.run(one_event())
    assert event["task"]["state"] == "COMPLETE" and isinstance(event["message"], str)
    return event


@shape("emulator_counters")
def _emulator_counters(ctx: Ctx, documented: dict[str, ast.expr]) -> dict[str, Any]:
    """docs/emulator.md *Counters*: ``admin.counters()`` after an upload; the route templates it shows exist."""
    from airflow_provider_anaplan.client import AnaplanClient, BasicCredentials, ClientConfig

    emu = ctx.emulator
    config = ClientConfig(
        credentials=BasicCredentials(emu.user, emu.password), workspace_id=emu.workspace_id,
        model_id=emu.model_id, api_url=emu.api_url, auth_url=emu.auth_url, oauth_url=emu.oauth_url,
    )
    with AnaplanClient(config) as client:
        client.upload_file("113000000000", PRODUCTS_CSV.encode())
    counters = emu.admin.counters()
    shown = ast.literal_eval(documented["requests"])
    assert set(shown) <= set(counters["requests"]), (sorted(shown), sorted(counters["requests"]))
    return counters


def union_alternatives(node: ast.expr) -> set[Any] | None:
    """``"a" | "b" | "c"`` -> ``{"a", "b", "c"}``; ``None`` for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = union_alternatives(node.left), union_alternatives(node.right)
        return None if left is None or right is None else left | right
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    return None


def documented_shape(block: Block) -> dict[str, ast.expr]:
    """The top-level dict of a shape block (``, ...`` elisions dropped): ``{key: value node}``."""
    source = re.sub(r",\s*\.\.\.(?=\s*[}\]])", "", block.body)
    tree = ast.parse(source, mode="eval").body
    assert isinstance(tree, ast.Dict), f"{block.id}: a shape block is a dict literal"
    keys = [ast.literal_eval(key) for key in tree.keys if key is not None]
    return dict(zip(keys, tree.values, strict=True))


# ------------------------------------------------------------------------------- the block tests


def project_files(doc: Path) -> dict[str, Block]:
    """The file blocks of one document: the reader's project."""
    files: dict[str, Block] = {}
    for block in PYTHON_BLOCKS:
        if block.doc == doc and block.mode[0] == "file":
            assert files.get(block.file_path, block).body == block.body, f"{block.id}: two versions of a file"
            files[block.file_path] = block
    return files


def documented_test_names(block: Block) -> list[str]:
    tree = ast.parse(block.body)
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test")]


def cases() -> list[Any]:
    params = []
    for block in PYTHON_BLOCKS:
        mode, arg = block.mode
        if mode == "file" and Path(arg).name.startswith("test_"):
            names = documented_test_names(block)
            params += [pytest.param(block, name, id=f"{block.id}::{name}") for name in names]
            params += [] if names else [pytest.param(block, None, id=block.id)]  # fails: no test in it
        else:
            marks = [pytest.mark.slow] if (mode, arg) == ("setup", "airflow_stack") else []
            params.append(pytest.param(block, None, id=block.id, marks=marks))
    return params


@pytest.mark.parametrize(("block", "test_name"), cases())
def test_python_block(
    block: Block, test_name: str | None, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mode, arg = block.mode
    if mode == "skip":
        pytest.skip(f"{block.id}: {arg}")
    ctx = Ctx(block, request, tmp_path)
    if mode == "shape":
        assert arg in SHAPES, f"{block.id}: no shape {arg!r} in {__file__}"
        documented = documented_shape(block)
        real = SHAPES[arg](ctx, documented)
        assert set(documented) == set(real), f"{block.id}: documented {sorted(documented)}, real {sorted(real)}"
        for key, node in documented.items():
            alternatives = union_alternatives(node)
            if alternatives is not None:
                assert real[key] in alternatives, f"{block.id}: {key}={real[key]!r} not in {alternatives}"
        return
    if mode == "file":
        run_project_file(ctx, arg, test_name)
        return
    assert mode == "plain" or arg in SETUPS, f"{block.id}: no setup {arg!r} in {__file__}"
    steps = (SETUPS[arg] if mode == "setup" else plain)(ctx)
    next(steps)
    execute(block, ctx.namespace, ctx.source)
    with pytest.raises(StopIteration):
        next(steps)


def run_project_file(ctx: Ctx, path: str, test_name: str | None) -> None:
    """A file of the reader's project: conftest.py enables loaded plugins, a DAG file defines a DAG, a
    test function passes with the plugin's fixtures."""
    project = ctx.cwd / "project"
    for name, block in project_files(ctx.block.doc).items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(block.body, encoding="utf-8")
    module = types.ModuleType(f"doc_block_{Path(path).stem}")
    module.__file__ = str(project / path)
    if Path(path).name == "conftest.py":
        execute(ctx.block, module.__dict__)
        plugins = module.__dict__["pytest_plugins"]
        assert plugins and all(ctx.request.config.pluginmanager.has_plugin(p) for p in plugins), plugins
    elif path.startswith("dags/"):
        from airflow_provider_anaplan.testing.airflow_home import load_dag_file

        dag = load_dag_file(project / path)
        assert dag.task_ids, f"{ctx.block.id}: the DAG has no task"
    else:
        assert test_name, f"{ctx.block.id}: {path} has no test function"
        execute(ctx.block, module.__dict__)
        test = module.__dict__[test_name]
        test(**{name: ctx.fixture(name) for name in inspect.signature(test).parameters})


# -------------------------------------------------------------------------------------- coverage


def test_every_python_block_is_run_or_skipped_with_a_reason() -> None:
    modes = [block.mode for block in PYTHON_BLOCKS]  # raises on a malformed marker
    assert len(PYTHON_BLOCKS) >= 14
    used = {arg for mode, arg in modes if mode in ("setup", "shape")}
    assert used - set(SETUPS) - set(SHAPES) == set(), "markers name setups this module does not have"
    assert set(SETUPS) | set(SHAPES) <= used, "setups no block uses any more: delete them"
    skips = [(block.id, block.mode[1]) for block in PYTHON_BLOCKS if block.mode[0] == "skip"]
    assert len(skips) <= 2, f"keep skipped blocks rare: {skips}"
    for block in PYTHON_BLOCKS:
        if block.mode[0] != "shape":
            block.code()  # valid Python


def test_markers_sit_on_python_blocks() -> None:
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").split("\n")
        starts = {block.line for block in parse_blocks(doc) if block.lang == "python" and block.marker}
        markers = [n for n, line in enumerate(lines, 1) if MARKER.match(line)]
        for n in markers:
            fence = next(m for m in range(n + 1, len(lines) + 1) if lines[m - 1].strip())
            assert fence in starts, f"{doc.name}:{n}: a doctest marker must be right before a ```python fence"


# ---------------------------------------------------------------------------------- bash blocks


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {m for line in text.splitlines() for m in re.findall(r"^([\w.-]+)\s*:(?!=)", line)}


def bash_commands() -> Iterator[tuple[Block, list[str]]]:
    for block in BLOCKS:
        if block.lang not in ("bash", "sh", "shell", "console"):
            continue
        for line in block.body.replace("\\\n", " ").splitlines():
            line = re.sub(r"<[^>\n]*>", "PLACEHOLDER", line.strip().removeprefix("$ "))
            try:
                argv = shlex.split(line, comments=True)
            except ValueError:  # the continuation of a multi-line quoted value
                continue
            if argv:
                yield block, argv


def check_cli(argv: list[str], where: str) -> None:
    """Parse a documented command line with the console script's own argument parser."""
    scripts = PYPROJECT["project"]["scripts"]
    assert argv[0] in scripts, f"{where}: {argv[0]} is not a console script of pyproject.toml"
    module_name, func = scripts[argv[0]].split(":")
    module = __import__(module_name, fromlist=[func])
    parser = module.build_parser()
    try:
        parser.parse_args(argv[1:])
    except SystemExit as exc:
        assert exc.code == 0 and "--help" in argv, f"{where}: {shlex.join(argv)} is rejected by {argv[0]}"


def test_bash_blocks_name_existing_commands(capsys: pytest.CaptureFixture[str]) -> None:
    targets = make_targets()
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    services = set(yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))["services"])
    seen: set[str] = set()
    for block, argv in bash_commands():
        where = f"{block.id} `{shlex.join(argv)}`"
        command = argv[0]
        if command == "make":
            seen.add("make")
            for target in [a for a in argv[1:] if not a.startswith("-") and "=" not in a]:
                assert target in targets, f"{where}: no make target {target!r}"
        elif command in ("anaplan-emulator", "airflow-anaplan"):
            seen.add(command)
            check_cli(argv, where)
        elif command in ("python", "python3") or command.endswith("/bin/python"):
            if argv[1] == "-m":
                module = argv[2]
                if module == "airflow_provider_anaplan.testing.emulator":
                    check_cli(["anaplan-emulator", *argv[3:]], where)
                else:
                    assert importlib.util.find_spec(module), f"{where}: no module {module}"
            else:
                script = REPO / argv[1]
                assert script.is_file(), f"{where}: no script {argv[1]}"
                source = script.read_text(encoding="utf-8")
                for option in [a.split("=")[0] for a in argv[2:] if a.startswith("--")]:
                    assert f'"{option}"' in source, f"{where}: {argv[1]} has no option {option}"
            seen.add("python")
        elif command == "pip" and argv[1] == "install":
            for arg in argv[2:]:
                if match := re.fullmatch(r"\.\[([\w,-]+)\]", arg):
                    assert set(match[1].split(",")) <= extras, f"{where}: no extra {match[1]!r}"
        elif command == "docker" and argv[1:2] == ["compose"] and "exec" in argv:
            service = argv[argv.index("exec") + 1]
            assert service in services, f"{where}: no compose service {service!r}"
    capsys.readouterr()  # --help output
    assert seen >= {"make", "anaplan-emulator", "airflow-anaplan", "python"}
    for doc in DOCS:  # `make xyz` in prose too
        for target in re.findall(r"`make ([\w-]+)", doc.read_text(encoding="utf-8")):
            assert target in targets, f"{doc.name}: `make {target}`: no such make target"


# ------------------------------------------------------------------------------------- README links


def github_slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = doc.read_text(encoding="utf-8")
    in_code = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    found = {github_slug(m) for m in re.findall(r"^#{1,6} (.+)$", in_code, re.M)}
    return found | set(re.findall(r'<a (?:id|name)="([^"]+)"', text))


# README links that stay relative for now: {target: why}. Empty it when they are made absolute.
_TESTING_SECTION = "in 'Testing your DAGs', which the pytest-plugin work is rewriting: to be made absolute there"
RELATIVE_README_LINKS: dict[str, str] = {
    "docs/emulator.md#using-it-in-your-own-dag-tests-pytest": _TESTING_SECTION,
    "docs/emulator.md": _TESTING_SECTION,
}


def test_readme_links_work_on_a_package_index_page() -> None:
    """Repository files are linked absolutely (``[project.urls] Source`` + ``/blob/main/``) and exist;
    in-page anchors name a heading or an explicit anchor of the README."""
    urls = PYPROJECT["project"]["urls"]
    repository = urls["Source"].rstrip("/")
    base = repository + "/blob/main/"
    readme = REPO / "README.md"
    text = re.sub(r"^```.*?^```", "", readme.read_text(encoding="utf-8"), flags=re.S | re.M)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert len(links) > 10
    relative = []
    for link in links:
        if link.startswith("#"):
            assert link[1:] in anchors(readme), f"README: no anchor {link}"
        elif link.startswith(base):
            path, _, anchor = link[len(base) :].partition("#")
            assert (REPO / path).exists(), f"README links {link}, but {path} does not exist"
            if anchor and path.endswith(".md"):
                assert anchor in anchors(REPO / path), f"README links {link}: no such heading in {path}"
        elif repository in link:
            assert link in urls.values(), f"README links {link}: use {base}<path> for repository files"
        elif not re.match(r"https?://|mailto:", link):
            relative.append(link)
    assert set(relative) <= set(RELATIVE_README_LINKS), f"relative links break on PyPI, make them absolute: {relative}"


def documented_connections() -> Iterator[tuple[str, str]]:
    """``(where, json)`` of every ``export AIRFLOW_CONN_*='...'`` in a bash block and every JSON block
    that is an ``anaplan`` connection."""
    for block in BLOCKS:
        if block.lang == "bash":
            for name, value in re.findall(r"export (AIRFLOW_CONN_\w+)='([^']*)'", block.body):
                yield f"{block.id} {name}", value
        elif block.lang == "json" and json.loads(block.body).get("conn_type") == "anaplan":
            yield block.id, block.body


def test_documented_connections_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The connections the docs show parse into a client configuration (no network)."""
    from airflow_provider_anaplan.hooks.anaplan import AnaplanHook

    seen = 0
    for where, value in documented_connections():
        conn = json.loads(value)
        monkeypatch.setenv("AIRFLOW_CONN_DOC_EXAMPLE", value)
        config = AnaplanHook("doc_example").get_client_config()
        assert config.workspace_id == conn["extra"]["workspace_id"], where
        if region := conn["extra"].get("region"):
            assert region in config.api_url, where
        seen += 1
    assert seen >= 3


def test_this_module_runs_in_make_test() -> None:
    testpaths = PYPROJECT["tool"]["pytest"]["ini_options"]["testpaths"]
    assert any(Path(__file__).is_relative_to(REPO / p) for p in testpaths)
