"""Docs and editor support stay true to the schema and to the command line.

The schema drives completion and hover in editors and the generated reference page; playbooks in
docs are validated like any other; every `qfex-runner` call shown to a reader must exist.
"""

from __future__ import annotations

import importlib.util
import json
import posixpath
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "playbook.schema.json"
MODELINE = "# yaml-language-server: $schema="


def load_script(name: str) -> ModuleType:
    """A module from scripts/ (they are tools, not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


# --- the generated reference -------------------------------------------------------------------


def test_playbook_reference_is_generated_from_the_current_schema(schema: dict[str, Any]) -> None:
    generator = load_script("gen_playbook_reference")
    page = ROOT / "docs" / "playbook-reference.md"
    assert page.exists(), (
        "docs/playbook-reference.md is missing: run `python scripts/gen_playbook_reference.py`"
    )
    assert page.read_text(encoding="utf-8") == generator.render(schema), (
        "docs/playbook-reference.md is stale (the schema changed): regenerate it with "
        "`python scripts/gen_playbook_reference.py` and commit the result"
    )


def test_reference_has_a_section_for_every_key(schema: dict[str, Any]) -> None:
    page = (ROOT / "docs" / "playbook-reference.md").read_text(encoding="utf-8")
    for path, _ in property_paths(schema):
        assert f"### `{path}`" in page, f"no section for {path}"


def test_generator_check_mode_reports_a_stale_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generator = load_script("gen_playbook_reference")
    generator.OUTPUT_PATH = tmp_path / "docs" / "playbook-reference.md"
    generator.ROOT = tmp_path
    assert generator.main(["--check"]) == 1
    assert "python scripts/gen_playbook_reference.py" in capsys.readouterr().err
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0


def test_example_workflow_is_what_init_writes() -> None:
    from runner.init import render_template

    example = ROOT / "examples" / "github-actions" / "qfex-runner.yml"
    assert example.read_text(encoding="utf-8") == render_template("github-workflow.yml"), (
        "examples/github-actions/qfex-runner.yml differs from runner/templates/github-workflow.yml: "
        "edit the template, then run `python scripts/gen_examples.py`"
    )


# --- editor support: modeline and schema quality ------------------------------------------------


def shipped_playbooks() -> list[Path]:
    playbooks = ROOT / "playbooks"
    return sorted(p for p in playbooks.rglob("*.y*ml") if "scenarios" not in p.relative_to(playbooks).parts)


def test_there_are_shipped_playbooks() -> None:
    assert shipped_playbooks(), "no playbooks/*.yaml found"


@pytest.mark.parametrize("path", shipped_playbooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_playbook_starts_with_modeline_to_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path.relative_to(ROOT)}:1: first line must be the modeline"
    target = (path.parent / first[len(MODELINE) :].strip()).resolve()
    assert target == SCHEMA.resolve(), (
        f"{path.relative_to(ROOT)}: modeline points to {target}, not the schema"
    )


def test_init_example_modeline_points_to_a_schema_the_skeleton_contains() -> None:
    from runner.init import SCHEMA_PATH, render_template, skeleton_files

    first = render_template("example-playbook.yaml").splitlines()[0]
    assert first.startswith(MODELINE)
    relative = first[len(MODELINE) :].strip()
    assert posixpath.normpath(posixpath.join("playbooks", relative)) == SCHEMA_PATH
    assert SCHEMA_PATH in skeleton_files()


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A property schema with its `$ref` target merged under it (what editors show on hover)."""
    if "$ref" not in node:
        return node
    target: Any = root
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return {**resolve(target, root), **{k: v for k, v in node.items() if k != "$ref"}}


def property_paths(root: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(dotted path, resolved schema) of every key a playbook can contain."""
    out: list[tuple[str, dict[str, Any]]] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        # an `orders:` item is an order or (with `step:`) a step of one kind: every branch's keys count
        for branch in [node.get("then"), node.get("else"), *node.get("allOf", [])]:
            if isinstance(branch, dict):
                walk(resolve(branch, root), prefix)
        for key, sub in node.get("properties", {}).items():
            sub = resolve(sub, root)
            out.append((prefix + key, sub))
            walk(sub, f"{prefix}{key}.")
            items = sub.get("items")
            if isinstance(items, dict):
                walk(resolve(items, root), f"{prefix}{key}[].")

    walk(root, "")
    return out


#: keys whose value set is closed: editors must offer exactly these values
CLOSED = {
    "version",
    "on_reject",
    "defaults.time_in_force",
    "defaults.wait",
    "defaults.expect",
    "orders[].side",
    "orders[].type",
    "orders[].time_in_force",
    "orders[].wait",
    "orders[].expect",
    "orders[].bracket.mode",
}


def test_schema_is_a_valid_json_schema(schema: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)


def test_every_key_has_a_description_for_hover(schema: dict[str, Any]) -> None:
    missing = [path for path, sub in property_paths(schema) if not sub.get("description")]
    assert not missing, f"keys without a description: {missing}"
    assert schema.get("description")


def test_closed_value_sets_are_enums(schema: dict[str, Any]) -> None:
    paths = dict(property_paths(schema))
    assert set(paths) >= CLOSED, f"keys the test expects but the schema lacks: {CLOSED - set(paths)}"
    for path in sorted(CLOSED):
        # `expect` is a closed set or its mapping form {rejected: STATUS}: the plain form is an enum
        forms = paths[path].get("anyOf", [paths[path]])
        assert any("enum" in f or "const" in f for f in forms), f"{path}: closed value set without enum"
    assert set(paths["orders[].type"]["enum"]) == {"LIMIT", "MARKET", "ALO", "TAKE_PROFIT", "STOP_LOSS"}
    assert set(paths["orders[].time_in_force"]["enum"]) == {"GTC", "IOC", "FOK"}


def test_free_values_have_examples_for_completion(schema: dict[str, Any]) -> None:
    """Text and numbers without an enum get examples, so completion offers something sensible."""
    lacking = []
    for path, sub in property_paths(schema):
        kinds = sub.get("type")
        kinds = set(kinds if isinstance(kinds, list) else [kinds])
        free = kinds & {"string", "number", "integer"} and "enum" not in sub and "const" not in sub
        if free and not sub.get("examples"):
            lacking.append(path)
    assert not lacking, f"free-valued keys without examples: {lacking}"


def test_objects_reject_unknown_keys_so_editors_flag_typos(schema: dict[str, Any]) -> None:
    for path, sub in [("(top level)", schema), *property_paths(schema)]:
        if sub.get("type") == "object":
            assert sub.get("additionalProperties") is False, f"{path}: unknown keys would pass silently"
        items = sub.get("items")
        if isinstance(items, dict) and resolve(items, schema).get("type") == "object":
            assert resolve(items, schema).get("additionalProperties") is False, path


# --- docs: recipes, playbooks shown to readers, commands shown to readers -----------------------

RECIPE_TOPICS = {
    "bracket entry": r"bracket",
    "ladder": r"ladder",
    "exit plan": r"exit plan",
    "rehearsal on a scenario": r"rehears",
    "re-running safely": r"re-run",
    "sim to UAT to prod": r"prod",
}


def test_recipes_cover_every_topic() -> None:
    headings = [
        line.lower()
        for line in (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    ]
    for topic, pattern in RECIPE_TOPICS.items():
        assert any(re.search(pattern, h) for h in headings), f"docs/recipes.md has no section on {topic}"
    recipes = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert "qfex-runner sim --scenario" in recipes


def doc_files() -> list[Path]:
    """The README and every page of the documentation site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def playbook_blocks() -> list[tuple[str, str]]:
    """(where, text) of every complete playbook shown in a ```yaml block of the docs."""
    blocks = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^```ya?ml\n(.*?)^```", text, re.S | re.M):
            body = match.group(1)
            if re.search(r"^version:", body, re.M) and re.search(r"^orders:", body, re.M):
                line = text[: match.start()].count("\n") + 2
                blocks.append((f"{path.relative_to(ROOT)}:{line}", body))
    return blocks


def test_docs_show_playbooks() -> None:
    assert len([w for w, _ in playbook_blocks() if w.startswith("docs/recipes.md")]) >= 4


@pytest.mark.parametrize(("where", "body"), playbook_blocks(), ids=[w for w, _ in playbook_blocks()])
def test_every_playbook_in_the_docs_is_valid(where: str, body: str, tmp_path: Path) -> None:
    from runner.playbook.load import validate_file
    from runner.playbook.refdata import load_refdata_file

    (tmp_path / "playbooks").mkdir()
    path = tmp_path / "playbooks" / "doc.yaml"
    path.write_text(body, encoding="utf-8")
    refdata = load_refdata_file(ROOT / "runner" / "simulator" / "data" / "refdata.json")
    errors = [str(p) for p in validate_file(str(path), refdata).problems if p.severity.value == "error"]
    assert not errors, f"the playbook at {where} is invalid:\n" + "\n".join(errors)


def test_every_command_and_option_in_the_docs_exists() -> None:
    checker = load_script("check_cli_references")
    files = [*doc_files(), ROOT / "runner" / "templates" / "README.md"]
    invocations = [inv for path in files for inv in checker.invocations_in_markdown(path)]
    assert len(invocations) >= 10
    assert checker.problems_with(invocations) == []


def test_reference_checker_catches_a_misspelt_option() -> None:
    checker = load_script("check_cli_references")
    found = checker.invocations_in_shell(
        "qfex-runner validate --formt github a.yaml && qfex-runner nosuch x", "doc"
    )
    assert [(i.command, i.options) for i in found] == [("validate", ("--formt",)), ("nosuch", ())]
    problems = checker.problems_with(found)
    assert any("no option --formt" in p for p in problems)
    assert any("`qfex-runner nosuch` is not a command" in p for p in problems)


def test_checker_reads_inline_code_and_venv_paths(tmp_path: Path) -> None:
    checker = load_script("check_cli_references")
    page = tmp_path / "page.md"
    page.write_text(
        "Run `qfex-runner run x.yaml --taget uat` or\n\n"
        "```sh\n.venv/bin/qfex-runner plan --formt json x\n```\n",
        encoding="utf-8",
    )
    found = checker.invocations_in_markdown(page)
    assert [(i.source, i.command, i.options) for i in found] == [
        (f"{page}:4", "plan", ("--formt",)),
        (f"{page}:1", "run", ("--taget",)),
    ]
    assert len(checker.problems_with(found)) == 2


def test_checker_without_arguments_checks_every_shipped_page_and_ci_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    checker = load_script("check_cli_references")
    checked = {p.relative_to(ROOT).as_posix() for p in checker.default_paths()}
    assert {"README.md", "docs/recipes.md", "examples/github-actions/qfex-runner.yml",
            "examples/gitlab-ci/.gitlab-ci.yml", "runner/templates/README.md"} <= checked
    assert checker.main([]) == 0, capsys.readouterr().out
    assert int(capsys.readouterr().out.split()[0]) >= 50  # "<n> qfex-runner call(s) checked: ..."


# --- the README (the front door) and the site's pages ----------------------------------------


def section(page: str, title: str) -> str:
    """The text of one `## title` section of a page (up to the next `## `); `# title` is the whole page."""
    text = (ROOT / page).read_text(encoding="utf-8")
    match = re.search(rf"^##? {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{page} has no '## {title}' section"
    return match.group(1)


def readme_section(title: str) -> str:
    return section("README.md", title)


def table_first_column(section: str) -> list[str]:
    """The first cell of every body row of the Markdown tables in `section`, backticks removed."""
    cells = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            cells.append(line.split("|")[1].strip().strip("`"))
    return cells


def ci_test_command() -> str:
    """The command `.ci/run` runs (its one line that starts with `python3 -m venv`)."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    [line] = [ln for ln in lines if ln.startswith("python3 -m venv")]
    return line.split(" || ")[0]


def test_quick_start_has_exactly_two_setup_commands_the_second_is_what_ci_runs() -> None:
    section = readme_section("Quick start")
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) == 1, "the Quick start has one shell block"
    commands = [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(commands) == 2, commands
    install_and_run, tests = commands
    assert install_and_run.startswith("python3 -m venv .venv && .venv/bin/pip install")
    assert install_and_run.endswith("qfex-runner run playbooks/quickstart.yaml")  # embedded sim, no keys
    assert "QFEX_" not in install_and_run and "--target" not in install_and_run
    assert tests == ci_test_command()
    assert "mkdocs build --strict" in tests, "the test command builds the site: a broken link fails CI"


def test_getting_started_shows_the_readme_quick_start_commands() -> None:
    site = section("docs/getting-started.md", "Quick start")
    assert re.findall(r"^```sh\n.*?^```", site, re.S | re.M) == re.findall(
        r"^```sh\n.*?^```", readme_section("Quick start"), re.S | re.M
    )


def test_readme_is_the_front_door() -> None:
    """Under 150 lines: what it is, the two commands, an example with its output, links into the site."""
    import yaml

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 150, "the README grew: move the details to a page of the site (docs/)"
    example = section("README.md", "An example")
    [shown] = re.findall(r"^```yaml\n(.*?)^```", example, re.S | re.M)
    quickstart = (ROOT / "playbooks" / "quickstart.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(shown) == yaml.safe_load(quickstart), "the example is playbooks/quickstart.yaml"
    assert "$ qfex-runner run playbooks/quickstart.yaml" in example
    linked = set(re.findall(r"\]\(docs/([^)#]+)", readme_section("Documentation")))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"simulator.md"}  # linked at its source
    assert linked == pages, f"pages the README does not link: {sorted(pages - linked)}"


def test_ci_script_runs_the_readme_command_and_fails_when_pytest_collects_nothing(tmp_path: Path) -> None:
    """`.ci/run` with a stand-in `python3` whose venv's lint-imports, mypy, mkdocs and pytest exit with
    chosen codes: each of the four gates the build."""
    import os
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    python3 = fake_bin / "python3"
    python3.write_text(
        "#!/bin/sh\n"  # `python3 -m venv .venv`: a venv whose pip succeeds and whose pytest exits $CODE
        'mkdir -p .venv/bin\n'
        "printf '#!/bin/sh\\nexit 0\\n' > .venv/bin/pip\n"
        "printf '#!/bin/sh\\necho \"$*\" > ran.txt\\nexit %s\\n' \"$PYTEST_CODE\" > .venv/bin/python\n"
        "printf '#!/bin/sh\\necho lint >> gates.txt\\nexit %s\\n' \"$LINT_CODE\" > .venv/bin/lint-imports\n"
        "printf '#!/bin/sh\\necho mypy >> gates.txt\\nexit %s\\n' \"$MYPY_CODE\" > .venv/bin/mypy\n"
        "printf '#!/bin/sh\\necho \"mkdocs $*\" >> gates.txt\\nexit %s\\n' \"$MKDOCS_CODE\""
        " > .venv/bin/mkdocs\n"
        "chmod +x .venv/bin/pip .venv/bin/python .venv/bin/lint-imports .venv/bin/mypy .venv/bin/mkdocs\n",
        encoding="utf-8",
    )
    python3.chmod(0o755)

    def ci(code: int, lint: int = 0, mypy: int = 0, mkdocs: int = 0) -> subprocess.CompletedProcess:
        env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}", "PYTEST_CODE": str(code),
               "LINT_CODE": str(lint), "MYPY_CODE": str(mypy), "MKDOCS_CODE": str(mkdocs)}
        return subprocess.run(["bash", str(tmp_path / ".ci" / "run")], env=env, capture_output=True,
                              text=True, timeout=60)

    passed = ci(0)
    assert passed.returncode == 0, passed.stderr
    assert (tmp_path / "ran.txt").read_text().split() == ["-m", "pytest", "-q", "-n", "4"]
    no_tests = ci(5)
    assert no_tests.returncode == 5 and "collected no tests" in no_tests.stderr
    assert ci(1).returncode == 1
    assert (tmp_path / "gates.txt").read_text().splitlines()[:3] == ["lint", "mypy", "mkdocs build --strict"]
    (tmp_path / "ran.txt").unlink()
    assert ci(0, lint=1).returncode == 1 and not (tmp_path / "ran.txt").exists(), "a broken contract fails"
    assert ci(0, mypy=1).returncode == 1 and not (tmp_path / "ran.txt").exists(), "a type error fails"
    assert ci(0, mkdocs=1).returncode == 1 and not (tmp_path / "ran.txt").exists(), "a broken site fails"


@pytest.mark.parametrize("page", ["docs/exit-codes.md", "docs/troubleshooting.md"])
def test_exit_code_table_is_exactly_runner_exit_codes(page: str) -> None:
    """The meaning of each code (exit-codes.md) and what to do about it (troubleshooting.md)."""
    from runner.exit_codes import ExitCode

    title = "Exit codes" if page == "docs/exit-codes.md" else "An exit code: what to do"
    codes = [int(c) for c in table_first_column(section(page, title))[1:]]  # [0] is the header
    assert sorted(codes) == sorted(int(c) for c in ExitCode)
    assert len(codes) == len(set(codes))


def test_commands_table_lists_every_command() -> None:
    from runner.cli import cli

    rows = table_first_column(section("docs/commands.md", "Commands"))
    listed = {row.split()[1] for row in rows if row.startswith("qfex-runner ")}
    assert listed == set(cli.commands), "docs/commands.md's command table and the CLI differ"


def test_every_command_has_a_generated_page_in_the_site_nav() -> None:
    """One page per command, rendered by mkdocs-click from the click command itself (it cannot drift)."""
    import yaml

    from runner.cli import cli

    pages = {p.stem for p in (ROOT / "docs" / "commands").glob("*.md")}
    assert pages == set(cli.commands)
    for name in pages:
        text = (ROOT / "docs" / "commands" / f"{name}.md").read_text(encoding="utf-8")
        assert "::: mkdocs-click" in text and ":module: runner.cli" in text
        assert f":command: {name}\n" in text
        assert getattr(sys.modules["runner.cli"], name) is cli.commands[name]
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True and config["site_dir"] == "site"
    assert "site/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()

    def nav_files(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [f for v in node.values() for f in nav_files(v)]
        return [f for v in node for f in nav_files(v)]

    in_nav = nav_files(config["nav"])
    on_disk = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert sorted(in_nav) == sorted(on_disk), "every page of docs/ is in mkdocs.yml's nav, once"


def test_troubleshooting_lists_every_problem_class_validate_reports_with_what_to_do() -> None:
    from runner.playbook.load import SOURCE_PROBLEMS
    from runner.playbook.rules import CHECKS

    tables = section("docs/troubleshooting.md", "Trading rules checked")
    for line in tables.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 3 and all(cells), f"a row without what to do: {line}"
    rows = table_first_column(tables)
    assert [r for r in rows if r in CHECKS] == list(CHECKS)
    assert [r for r in rows if r in SOURCE_PROBLEMS] == list(SOURCE_PROBLEMS)
    assert set(rows) - {"rule id", "id"} == set(CHECKS) | set(SOURCE_PROBLEMS)


def test_every_problem_id_the_loader_can_emit_is_a_known_class() -> None:
    from runner.playbook.load import SOURCE_PROBLEMS

    emitted = set()
    for module in ("yamlsource", "yamlscalar", "yamlevents", "schema", "load"):
        source = (ROOT / "runner" / "playbook" / f"{module}.py").read_text(encoding="utf-8")
        emitted |= set(re.findall(r'"((?:yaml|file)-[a-z-]+[a-z])"', source))
    emitted.add("schema")
    assert emitted == set(SOURCE_PROBLEMS)


def github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_links_to_its_own_sections_resolve() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    anchors = {github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and not links - anchors, f"dangling: {sorted(links - anchors)}"


def test_readme_links_to_files_resolve() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {t for t in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)}
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert targets and not missing, missing
    for target, anchor in re.findall(r"\]\(([^)#:]+\.md)#([^)]+)\)", text):
        headings = re.findall(r"^#{1,6} (.+)$", (ROOT / target).read_text(encoding="utf-8"), re.M)
        assert anchor in {github_anchor(h) for h in headings}, f"{target} has no section #{anchor}"


def test_readme_validate_example_is_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `$ qfex-runner validate ...` transcript on docs/commands.md, replayed: same lines, same summary."""
    import shutil

    from click.testing import CliRunner

    from runner.cli import cli

    commands = section("docs/commands.md", "Commands")
    block = re.search(r"^```text\n\$ qfex-runner (validate [^\n]+)\n(.*?)^```", commands, re.S | re.M)
    assert block, "the Commands section shows a validate transcript"
    args, shown = block.group(1).split(), block.group(2).splitlines()
    assert args == ["validate", "playbooks/quickstart.yaml", "broken.yaml", "--refdata", "refdata.json"]
    (tmp_path / "playbooks").mkdir()
    shutil.copy(ROOT / "playbooks" / "quickstart.yaml", tmp_path / "playbooks")
    shutil.copy(ROOT / "tests" / "playbooks" / "readme" / "broken.yaml", tmp_path)
    shutil.copy(ROOT / "runner" / "simulator" / "data" / "refdata.json", tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.stdout.splitlines() + result.stderr.splitlines() == shown


#: options of other tools that the docs show (pre-commit, VS Code, mkdocs)
FOREIGN_OPTIONS = {"--all-files", "--install-extension", "--strict"}


def test_every_option_named_in_prose_exists() -> None:
    """Options mentioned outside a `qfex-runner ...` call (e.g. "pass `--replan`") exist too."""
    checker = load_script("check_cli_references")
    known = set(FOREIGN_OPTIONS)
    from runner.cli import cli

    # `bench/x.py --repeat 3` in Performance, `scripts/crash_campaign.py --campaigns 60`
    for script in [*(ROOT / "bench").glob("*.py"), *(ROOT / "scripts").glob("*.py")]:
        source = script.read_text(encoding="utf-8")
        known |= set(re.findall(r"add_argument\(\s*\"(--[a-z][a-z0-9-]*)", source))
    for command in (None, *cli.commands):
        known |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", checker.help_text(command)[1]))
        for sub in getattr(cli.commands.get(command or ""), "commands", {}):  # `refdata pull`
            sub_help = checker.help_text(f"{command} {sub}")[1]
            known |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", sub_help))
    for path in [*doc_files(), ROOT / "runner" / "templates" / "README.md"]:
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", path.read_text(encoding="utf-8")))
        assert not named - known, f"{path.relative_to(ROOT)} names options that do not exist: {named - known}"


def test_readme_contents_line_names_every_section_in_order() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, re.M)
    intro = text[: text.index("\n## ")]
    linked = re.findall(r"\]\(#([^)]+)\)", intro)
    assert linked == [github_anchor(s) for s in sections]


# --- `qfex-runner docs` --------------------------------------------------------------------------


def test_docs_command_opens_the_built_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    from click.testing import CliRunner

    import runner.cli
    from runner.cli import cli

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    monkeypatch.setattr(runner.cli, "_checkout", lambda: tmp_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>", encoding="utf-8")
    result = CliRunner().invoke(cli, ["docs"])
    assert result.exit_code == 0, result.output
    assert opened == [(tmp_path / "site" / "index.html").as_uri()]
    assert "no web browser" not in result.output

    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: False)  # a machine without a browser
    result = CliRunner().invoke(cli, ["docs"])
    assert result.exit_code == 0
    assert f"no web browser found here: open {(tmp_path / 'site' / 'index.html').as_uri()}" in result.stdout


def test_docs_command_without_a_built_site_says_where_the_docs_are_and_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    from click.testing import CliRunner

    import runner.cli
    from runner.cli import cli

    monkeypatch.setattr(webbrowser, "open", lambda *a, **k: pytest.fail("nothing to open"))
    monkeypatch.setattr(runner.cli, "_checkout", lambda: tmp_path)
    (tmp_path / "mkdocs.yml").write_text("site_name: x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["docs"])
    assert result.exit_code == 0
    assert "the site is not built" in result.stderr
    assert str(tmp_path / "docs") in result.stdout and "mkdocs build" in result.stdout

    (tmp_path / "mkdocs.yml").unlink()  # installed from a wheel: no checkout beside the package
    result = CliRunner().invoke(cli, ["docs"])
    assert result.exit_code == 0
    assert "from a qfex-runner checkout" in result.stdout and str(tmp_path) not in result.stdout


def test_docs_command_finds_this_checkout() -> None:
    import runner.cli

    checkout = runner.cli._checkout()
    assert (checkout / "mkdocs.yml").is_file() and (checkout / "docs" / "index.md").is_file()


def test_the_readme_lists_every_exit_code() -> None:
    """The README's short list of exit codes names every code the runner can return, and no other."""
    import re

    from runner.exit_codes import ExitCode

    text = (ROOT / "README.md").read_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert {int(code) for code in re.findall(r"\*\*(\d+)\*\*", section)} == {int(c) for c in ExitCode}
