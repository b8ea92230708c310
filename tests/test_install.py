"""The install contract: requirements.txt, pyproject.toml, uv.lock, the Makefile, Pulumi.yaml and the
workflows name the same pins, so `pulumi up` installs exactly what `make test` installed and tested."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import yaml
from pulumi_mocks import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    """`name==version` requirement lines as {canonical name: version}; anything else is refused."""
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        assert match, f"not an exact pin: {line!r}"
        found[canonical(match[1])] = match[3]
    return found


def requirement_lines(path: Path) -> list[str]:
    return [s for s in (line.split("#", 1)[0].strip() for line in path.read_text().splitlines()) if s]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def makefile_variable(name: str) -> str:
    (value,) = re.findall(rf"^{name}\s*:?=\s*(\S+)\s*$", (ROOT / "Makefile").read_text(), re.M)
    return value


def test_pyproject_declares_exactly_the_pins_of_requirements_txt():
    # GIVEN the program's direct requirements in both places
    # THEN they are the same packages at the same versions
    assert pins(pyproject()["project"]["dependencies"]) == pins(requirement_lines(ROOT / "requirements.txt"))


def test_uv_lock_resolves_every_pin_at_its_version():
    # GIVEN every exact pin of the program and of its dev group
    project = pyproject()
    wanted = pins(project["project"]["dependencies"])
    wanted |= pins([d for d in project["dependency-groups"]["dev"] if "==" in d])
    # WHEN the lock is read
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(package["name"], set()).add(package.get("version", ""))
    # THEN each is locked at exactly that version (a stale lock would install something else)
    assert {name: locked.get(name) for name in wanted} == {name: {version} for name, version in wanted.items()}
    # AND every downloaded artefact carries a hash
    for package in lock["package"]:
        for artefact in [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]:
            assert artefact["hash"].startswith("sha256:"), package["name"]


def test_the_shared_helper_installs_editable_from_the_working_tree():
    # THEN the dev group installs service_images/common from its directory, editable
    project = pyproject()
    assert "event-tasks-common" in project["dependency-groups"]["dev"]
    assert project["tool"]["uv"]["sources"]["event-tasks-common"] == {
        "path": "service_images/common",
        "editable": True,
    }


def test_pulumi_installs_with_uv_into_the_venv_make_uses():
    # GIVEN the project file and the Makefile
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    # THEN Pulumi's Python runtime syncs uv.lock with uv into the same virtualenv
    assert runtime["name"] == "python"
    assert runtime["options"] == {"toolchain": "uv", "virtualenv": makefile_variable("VENV")}


def test_one_uv_version_everywhere():
    # GIVEN the uv the Makefile bootstraps
    version = makefile_variable("UV_VERSION")
    # THEN the lock keeps the same uv (a sync would otherwise replace the running one)
    assert pins([d for d in pyproject()["dependency-groups"]["dev"] if d.startswith("uv==")]) == {"uv": version}
    # AND every workflow step that installs uv for Pulumi installs that version
    installs = [
        step["run"]
        for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml"))
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
        if "uv==" in step.get("run", "")
    ]
    assert installs and set(installs) == {f"pip install uv=={version}"}
    # AND no workflow runs Pulumi without it
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            uses = [step.get("uses", "") for step in job["steps"]]
            if any(u.startswith("pulumi/actions") for u in uses):
                assert any("uv==" in step.get("run", "") for step in job["steps"]), workflow.name


def test_make_lets_python_keep_what_it_compiles_even_when_the_shell_forbids_it(tmp_path):
    # GIVEN a shell that exports PYTHONDONTWRITEBYTECODE (some container images do), and a probe
    # recipe added to the project's Makefile that reports what Python sees under make
    probe = tmp_path / "probe.mk"
    probe.write_text(
        f'include {ROOT / "Makefile"}\nprobe:\n\t@python3 -c "import sys; print(sys.dont_write_bytecode)"\n'
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # WHEN make runs a recipe
    done = subprocess.run(
        ["make", "-s", "-f", str(probe), "probe"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    # THEN the Python it starts writes the bytecode it compiles (nothing is compiled at install)
    assert done.stdout.strip() == "False"
