"""Checks GitHub workflows for what their schema cannot: every `uses:` pinned to a full commit SHA
with its release in a comment, every job bounded by `timeout-minutes`, and every checkout with
`persist-credentials: false`. Prints one line per problem (`file:line: ...`); exits 1 if any.

    python .ci/check_workflows.py .github/workflows/*.yml
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

# owner/repo[/path]@<40 hex> # <release>   (the comment is what Dependabot reads and updates)
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>\S.*?))?\s*$")
RELEASE = re.compile(r"^v?\d+(\.\d+)*\S*$")


def _lines_using(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, reference, comment) of every block-style `uses:` line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if match:
            found.append((number, match["ref"].strip("'\""), match["comment"]))
    return found


def _uses_values(node: Any) -> list[str]:
    """Every `uses` value anywhere in the parsed workflow (steps and reusable-workflow jobs)."""
    if isinstance(node, dict):
        here = [str(node["uses"])] if "uses" in node else []
        return here + [value for child in node.values() for value in _uses_values(child)]
    if isinstance(node, list):
        return [value for child in node for value in _uses_values(child)]
    return []


def check(path: Path) -> list[str]:
    """The problems of one workflow file."""
    text = path.read_text()
    workflow = yaml.safe_load(text) or {}
    problems = []
    lines = _lines_using(text)
    if sorted(ref for _, ref, _ in lines) != sorted(_uses_values(workflow)):
        problems.append(f"{path}: write every `uses:` as its own line (`uses: owner/repo@<sha> # vX.Y.Z`)")
    for number, ref, comment in lines:
        if ref.startswith("./"):
            continue  # an action of this repository: pinned by the commit being run
        if ref.startswith("docker://"):
            if not re.search(r"@sha256:[0-9a-f]{64}$", ref):
                problems.append(f"{path}:{number}: `uses: {ref}` is not pinned by digest (docker://image@sha256:...)")
            continue
        if not PINNED.match(ref):
            problems.append(
                f"{path}:{number}: `uses: {ref}` is not pinned to a full commit SHA "
                "(write `uses: owner/repo@<40-hex commit sha> # vX.Y.Z`)"
            )
        elif not (comment and RELEASE.match(comment)):
            problems.append(f"{path}:{number}: `uses: {ref}` has no release comment (append `# vX.Y.Z`)")
    for name, job in (workflow.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        if "uses" not in job and "timeout-minutes" not in job:
            problems.append(f"{path}: job '{name}' has no timeout-minutes (the default is 6 hours)")
        for step in job.get("steps") or []:
            uses = str(step.get("uses", ""))
            if (
                uses.startswith("actions/checkout@")
                and (step.get("with") or {}).get("persist-credentials") is not False
            ):
                problems.append(
                    f"{path}: job '{name}' checks out without `persist-credentials: false` "
                    "(the token would stay in .git/config for every later step)"
                )
    return problems


def main(paths: list[str]) -> int:
    problems = [problem for path in paths for problem in check(Path(path))]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
