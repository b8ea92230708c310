"""Supply chain and CI: the workflow checker `make lint` runs (.ci/check_workflows.py) on good and
bad workflows, what the shipped workflows grant to a pull request versus a deploy, and the service
images' pinned base and hashed requirements."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi_mocks import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SHA = "de0fac2e4500dabe0009e67214ff5f5447ce83dd"


def load_checker():
    spec = importlib.util.spec_from_file_location("check_workflows", ROOT / ".ci" / "check_workflows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = load_checker()


def workflow_file(tmp_path: Path, steps: str, job_extra: str = "    timeout-minutes: 5\n") -> Path:
    path = tmp_path / "wf.yml"
    path.write_text(f"on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n{job_extra}    steps:\n{steps}")
    return path


# --- the checker -------------------------------------------------------------------------------


def test_the_shipped_workflows_pass_the_checker():
    assert WORKFLOWS
    assert {path.name: checker.check(path) for path in WORKFLOWS} == {path.name: [] for path in WORKFLOWS}


def test_a_sha_pinned_action_with_its_release_passes(tmp_path):
    path = workflow_file(
        tmp_path,
        f"      - uses: actions/checkout@{SHA} # v6.0.2\n        with:\n          persist-credentials: false\n"
        f"      - uses: aws-actions/configure-aws-credentials@{'0' * 40}  # v5.1.0\n"
        "      - uses: ./.github/actions/local\n"
        f"      - uses: docker://alpine@sha256:{'a' * 64}\n",
    )
    assert checker.check(path) == []


@pytest.mark.parametrize(
    "ref",
    ["actions/setup-python@v6", "actions/setup-python@v6.0.0", "actions/setup-python@e797f83", "actions/setup-python"],
)
def test_an_action_not_pinned_by_full_sha_fails(tmp_path, ref):
    # GIVEN a step using a tag, a short SHA or no ref at all
    path = workflow_file(tmp_path, f"      - uses: {ref} # v6.0.0\n")
    # THEN the line is named with the fix
    assert checker.check(path) == [
        f"{path}:7: `uses: {ref}` is not pinned to a full commit SHA "
        "(write `uses: owner/repo@<40-hex commit sha> # vX.Y.Z`)"
    ]


def test_a_pinned_action_without_its_release_comment_fails(tmp_path):
    path = workflow_file(tmp_path, f"      - uses: actions/setup-python@{'1' * 40}\n")
    assert checker.check(path) == [
        f"{path}:7: `uses: actions/setup-python@{'1' * 40}` has no release comment (append `# vX.Y.Z`)"
    ]


def test_a_uses_hidden_in_flow_style_fails(tmp_path):
    # GIVEN a step written inline, where no `uses:` line shows (nor its comment)
    path = workflow_file(tmp_path, "      - {uses: actions/setup-python@v6}\n")
    # THEN it is refused rather than skipped
    assert checker.check(path) == [
        f"{path}: write every `uses:` as its own line (`uses: owner/repo@<sha> # vX.Y.Z`)",
    ]


def test_a_docker_action_by_tag_fails(tmp_path):
    path = workflow_file(tmp_path, "      - uses: docker://alpine:3.20\n")
    assert checker.check(path) == [
        f"{path}:7: `uses: docker://alpine:3.20` is not pinned by digest (docker://image@sha256:...)"
    ]


def test_a_job_without_timeout_and_a_checkout_keeping_credentials_fail(tmp_path):
    # GIVEN a job with no timeout whose checkout persists the token
    path = workflow_file(tmp_path, f"      - uses: actions/checkout@{SHA} # v6.0.2\n", job_extra="")
    # THEN both are reported
    assert checker.check(path) == [
        f"{path}: job 'build' has no timeout-minutes (the default is 6 hours)",
        f"{path}: job 'build' checks out without `persist-credentials: false` "
        "(the token would stay in .git/config for every later step)",
    ]


def test_the_checker_exits_1_naming_the_problem_and_make_lint_runs_it(tmp_path):
    # GIVEN one good and one unpinned workflow
    bad = workflow_file(tmp_path, "      - uses: actions/setup-python@v6\n")
    # WHEN the script runs as `make lint` runs it
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check_workflows.py"), str(WORKFLOWS[0]), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it fails, printing only the bad file's problems
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{bad}:7: `uses: actions/setup-python@v6` is not pinned to a full commit SHA "
        "(write `uses: owner/repo@<40-hex commit sha> # vX.Y.Z`)"
    ]
    # AND the lint target runs it over the workflows
    assert "$(PY) .ci/check_workflows.py .github/workflows/*.yml" in (ROOT / "Makefile").read_text()


# --- what the workflows grant ------------------------------------------------------------------


def jobs(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())["jobs"]


def step_using(job: dict, action: str) -> dict:
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith(f"{action}@")]
    return step


def test_the_preview_uses_its_own_read_only_role_and_pulumi_identity():
    preview = jobs("pull-request.yml")["preview"]
    # THEN AWS is the preview role, Pulumi the preview team, both through OIDC
    assert step_using(preview, "aws-actions/configure-aws-credentials")["with"]["role-to-assume"] == (
        "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    )
    auth = step_using(preview, "pulumi/auth-actions")["with"]
    assert auth["requested-token-type"] == "urn:pulumi:token-type:access_token:team"
    assert auth["scope"] == "team:${{ vars.PULUMI_PREVIEW_TEAM }}"
    assert preview["permissions"]["id-token"] == "write"
    # AND the preview runs the policy pack
    pulumi = step_using(preview, "pulumi/actions")["with"]
    assert (pulumi["command"], pulumi["policyPacks"]) == ("preview", "policy")
    # AND nothing of the deploy identity, and no stored secret, is in the pull-request workflow
    text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "DEPLOY" not in text
    assert "secrets." not in text


def test_the_pulumi_token_is_exchanged_before_pulumi_runs():
    for name, job in [
        ("pull-request.yml", jobs("pull-request.yml")["preview"]),
        ("deploy.yml", jobs("deploy.yml")["up"]),
    ]:
        uses = [str(s.get("uses", "")).split("@")[0] for s in job["steps"]]
        assert uses.index("pulumi/auth-actions") < uses.index("pulumi/actions"), name


def test_a_fork_pull_request_skips_the_preview_with_a_notice():
    pr = jobs("pull-request.yml")
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    # THEN the preview runs only for branches of this repository, and the notice job exactly otherwise
    assert pr["preview"]["if"] == same_repo
    assert pr["preview-skipped"]["if"] == same_repo.replace("==", "!=")
    (step,) = pr["preview-skipped"]["steps"]
    assert step["run"].startswith('echo "::notice title=pulumi preview skipped::')
    assert "exit 1" not in step["run"]


def test_deploy_runs_only_behind_its_stacks_environment_with_the_deploy_identity():
    up = jobs("deploy.yml")["up"]
    assert up["environment"] == "${{ matrix.stack }}"
    assert up["strategy"]["matrix"]["stack"] == ["local", "cloud"]
    assert step_using(up, "aws-actions/configure-aws-credentials")["with"]["role-to-assume"] == (
        "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    )
    assert step_using(up, "pulumi/auth-actions")["with"]["scope"] == "team:${{ vars.PULUMI_DEPLOY_TEAM }}"
    pulumi = step_using(up, "pulumi/actions")["with"]
    assert (pulumi["command"], pulumi["policyPacks"]) == ("up", "policy")
    assert "secrets." not in (ROOT / ".github" / "workflows" / "deploy.yml").read_text()


# --- the service images ------------------------------------------------------------------------

IMAGES = ("order", "customer")
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}$", re.M)


@pytest.mark.parametrize("service", IMAGES)
def test_the_image_base_is_digest_pinned_and_pip_only_installs_hashed_wheels(service):
    dockerfile = (ROOT / "service_images" / service / "Dockerfile").read_text()
    # THEN the base is pinned by digest
    assert re.search(r"^FROM python:[\w.-]+@sha256:[0-9a-f]{64}$", dockerfile, re.M)
    # AND every pip install requires hashes and takes wheels only (nothing built, no build backend)
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs == ["pip install --require-hashes --only-binary :all: -r /tmp/requirements.txt \\"]


def test_the_image_requirements_are_hashed_and_match_the_tested_versions():
    text = (ROOT / "service_images" / "common" / "requirements.txt").read_text()
    pins = {m["name"].lower(): m["version"] for m in REQUIREMENT.finditer(text)}
    # THEN every requirement line is a hashed exact pin
    lines = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(lines) == len(pins) >= 7
    # AND the images run exactly the versions the tests run against
    assert pins == {name: importlib.metadata.version(name) for name in pins}


def test_the_policy_pack_runs_the_programs_pulumi_version():
    def pins(path: Path) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", path.read_text(), re.M)
        return {name.lower(): version for name, version in found}

    # THEN the pack's own environment pins the same pulumi as the program, and pins pulumi-policy
    pack = pins(ROOT / "policy" / "requirements.txt")
    assert pack["pulumi"] == pins(ROOT / "requirements.txt")["pulumi"]
    assert pack["pulumi-policy"] == importlib.metadata.version("pulumi-policy")
