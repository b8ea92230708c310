"""What a service declares it emits: `<image directory>/emits.json`, read at deploy time.

The file is data, not code, so the program learns a service's events without importing the
service (which needs boto3 and its own environment):

    {"source": "event-tasks.order", "detailTypes": ["OrderApproved", "OrderCreated"]}

`read_emits` returns the declaration, None when the service declares nothing, or raises
`ValueError` with one line saying what is wrong with the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EMITS_FILE = "emits.json"
# EventBridge's limits on a PutEvents entry's Source and DetailType.
MAX_SOURCE = 256
MAX_DETAIL_TYPE = 128


@dataclass(frozen=True)
class Emits:
    """A service's declared events."""

    source: str
    """The `source` its events carry."""
    detail_types: tuple[str, ...]
    """Every detail-type it puts on its bus, sorted."""


def read_emits(image_dir: Path | str) -> Emits | None:
    """The declaration in `image_dir`, or None if the directory has no `emits.json`."""
    path = Path(image_dir) / EMITS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name} is not valid JSON ({error})") from None
    if not isinstance(data, dict) or set(data) != {"source", "detailTypes"}:
        raise ValueError(f'{path.name} must be an object with exactly "source" and "detailTypes"')
    source, detail_types = data["source"], data["detailTypes"]
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE:
        raise ValueError(f"{path.name}: source {source!r} is not an event source (1-{MAX_SOURCE} characters)")
    if not isinstance(detail_types, list) or not detail_types:
        raise ValueError(f"{path.name}: detailTypes must be a non-empty list of detail-types")
    bad = [d for d in detail_types if not isinstance(d, str) or not d.strip() or len(d) > MAX_DETAIL_TYPE]
    if bad:
        raise ValueError(f"{path.name}: detailTypes {bad} are not detail-types (1-{MAX_DETAIL_TYPE} characters)")
    if len(set(detail_types)) != len(detail_types):
        raise ValueError(f"{path.name}: detailTypes lists a detail-type twice: {detail_types}")
    return Emits(source=source, detail_types=tuple(sorted(detail_types)))
