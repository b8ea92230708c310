"""The services' emits.json: each declares exactly what its use cases emit, the deploy reads it
without importing the service, and a bad declaration is refused naming the key and the file."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from pulumi_mocks import REGION, ROOT

from components.config import ConfigError, engine_config, load_config
from components.emits import Emits, read_emits

SERVICES = {"order": ROOT / "service_images" / "order", "customer": ROOT / "service_images" / "customer"}


def emitted_in_source(package: Path) -> set[str]:
    """Every detail-type the package's code can emit: the constant detail-type of each `Outcome(...)`
    (second argument or `detail_type=`) and of each direct `.emit(...)` call."""
    found: set[str] = set()
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        # A detail-type may be a module constant (`EXPIRED = "CreditReservationExpired"`).
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name == "Outcome":
                candidates = node.args[1:2] + [k.value for k in node.keywords if k.arg == "detail_type"]
            elif name == "emit":
                candidates = node.args[:1] + [k.value for k in node.keywords if k.arg == "detail_type"]
            else:
                continue
            values = [
                c.value if isinstance(c, ast.Constant) else constants.get(getattr(c, "id", "")) for c in candidates
            ]
            found |= {v for v in values if isinstance(v, str)}
    return found


def declared_source(package: Path) -> str:
    """The `SOURCE = "..."` constant of the package's model module."""
    tree = ast.parse((package / "model.py").read_text())
    (value,) = [
        n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and [getattr(t, "id", None) for t in n.targets] == ["SOURCE"]
    ]
    return value


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_declares_exactly_what_its_use_cases_emit(service):
    # GIVEN the service's declaration and its source code
    image = SERVICES[service]
    declared = read_emits(image)
    package = image / service
    # THEN the declaration lists every detail-type the code emits, and nothing it does not
    assert declared is not None
    assert set(declared.detail_types) == emitted_in_source(package)
    # AND its source is the one the code sets and the stack enforces (event-tasks.<service>)
    assert declared.source == declared_source(package) == f"event-tasks.{service}"


def test_the_source_scan_finds_outcomes_and_direct_emits(tmp_path):
    # GIVEN a package that emits through an Outcome, a keyword Outcome and a direct emit, and
    # replays a recorded (non-constant) detail-type
    (tmp_path / "uc.py").write_text(
        "Outcome('m', 'A', {})\n"
        "Outcome('m', detail_type='B')\n"
        "ctx.emit('C', {})\n"
        "Outcome('m', recorded['type'], {})\n"
        "Outcome('no event')\n"
        "D = 'D'\n"
        "Outcome('m', D, {})\n"
    )
    # THEN each constant detail-type is found (a module constant's too), a new one would be noticed
    assert emitted_in_source(tmp_path) == {"A", "B", "C", "D"}


def test_read_emits_parses_a_declaration_and_none_is_no_declaration(tmp_path):
    # GIVEN a declaration, and a directory without one
    (tmp_path / "emits.json").write_text(json.dumps({"source": "s", "detailTypes": ["B", "A"]}))
    # THEN it is read sorted, and a missing file means the service declares nothing
    assert read_emits(tmp_path) == Emits(source="s", detail_types=("A", "B"))
    assert read_emits(tmp_path / "missing") is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", r"emits\.json is not valid JSON"),
        ('["A"]', r'emits\.json must be an object with exactly "source" and "detailTypes"'),
        ('{"source": "s", "detailTypes": ["A"], "extra": 1}', r"exactly \"source\" and \"detailTypes\""),
        ('{"source": "", "detailTypes": ["A"]}', r"emits\.json: source '' is not an event source"),
        ('{"source": "s", "detailTypes": []}', r"detailTypes must be a non-empty list"),
        ('{"source": "s", "detailTypes": ["A", " "]}', r"detailTypes \[' '\] are not detail-types"),
        ('{"source": "s", "detailTypes": ["A", "A"]}', r"lists a detail-type twice"),
    ],
)
def test_a_bad_declaration_is_refused_with_one_line(tmp_path, text, message):
    # GIVEN a malformed emits.json
    (tmp_path / "emits.json").write_text(text)
    # WHEN it is read THEN the error says what is wrong
    with pytest.raises(ValueError, match=message):
        read_emits(tmp_path)


def project_with(tmp_path: Path, emits: str | None) -> Path:
    """A project whose order image directory has a Dockerfile and, if given, this emits.json."""
    for service in ("order", "customer"):
        (tmp_path / "service_images" / service).mkdir(parents=True)
        (tmp_path / "service_images" / service / "Dockerfile").write_text("FROM scratch\n")
    if emits is not None:
        (tmp_path / "service_images" / "order" / "emits.json").write_text(emits)
    return tmp_path


def local_config() -> dict:
    return engine_config(
        {
            "aws:region": REGION,
            "event-tasks:environment": "local",
            "event-tasks:services": {"order": {}, "customer": {}},
        }
    )


@pytest.mark.parametrize(
    "emits, message",
    [
        ("{", r"event-tasks:services\.order\.image: emits\.json is not valid JSON .*; fix the file"),
        (
            '{"source": "event-tasks.orders", "detailTypes": ["OrderCreated"]}',
            r"event-tasks:services\.order\.image: emits\.json declares source 'event-tasks\.orders', but "
            r"service 'order' may only put 'event-tasks\.order' on its bus",
        ),
    ],
)
def test_a_bad_declaration_fails_the_config_naming_the_service(tmp_path, emits, message):
    # GIVEN a local stack whose order image declares badly, or another source than its name
    project = project_with(tmp_path, emits)
    # WHEN the config is loaded THEN it fails naming the key, before anything is registered
    with pytest.raises(ConfigError, match=message):
        load_config(local_config(), "test", project)


def test_a_service_without_a_declaration_is_accepted(tmp_path):
    # GIVEN a local stack whose images declare nothing (only the source is then enforced)
    # WHEN / THEN the config loads
    assert load_config(local_config(), "test", project_with(tmp_path, None)).services["order"].producers == []
