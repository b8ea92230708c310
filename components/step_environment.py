"""What an orchestration step's task receives, and how large it may get.

A step's container gets the triggering event exactly as a single-task trigger's does (`eventDetail`,
`eventId`, `eventDetailType`, `eventSource`), plus:

- `sagaStep`     the step's name;
- `sagaResults`  JSON object of the earlier steps' results, `{"<step>": {...}, ...}` (skipped steps
                 are `{"skipped": true}`);
- `taskToken`    result steps only: the token the task hands back with SendTaskSuccess/Failure;
- `taskHeartbeatSeconds` result steps with a heartbeat: how often Step Functions expects one.

ECS caps a RunTask's container overrides at 8192 characters, JSON included. Every part but the
event detail is bounded here, so the config validator can refuse, at deploy time, a step whose
overrides could not fit, and the services can refuse a result that would break a later step.
"""

from __future__ import annotations

import json

ENV_STEP = "sagaStep"
ENV_RESULTS = "sagaResults"
ENV_TOKEN = "taskToken"
ENV_HEARTBEAT = "taskHeartbeatSeconds"

CONTAINER_OVERRIDES_MAX = 8192
"""ECS: container overrides of one RunTask, in characters of JSON."""
TASK_TOKEN_MAX = 2048
"""Step Functions: the longest task token SendTaskSuccess accepts."""
RESULT_MAX = 256
"""A step's compact JSON result, as the services' shared helper enforces it before SendTaskSuccess."""
DETAIL_MAX = 2048
"""The largest `eventDetail` (the detail as JSON, escaped as it sits in the overrides) a step is
sized for; a larger detail makes RunTask fail with ECS's limit and the saga compensates."""
_FIXED = 600
"""JSON punctuation, the container name, the four event variables' names and their id, detail-type
and source values (EventBridge: id 36, detail-type 128, source 256), the step name and heartbeat."""


def worst_override_chars(command: list[str], earlier_steps: int, *, result: bool) -> int:
    """The largest container overrides a step can produce, in characters."""
    # `{"<step>":<result>,...}`: a JSON string inside the overrides' JSON, so each quote may double.
    results = 2 * (2 + earlier_steps * (RESULT_MAX + 45))
    token = TASK_TOKEN_MAX if result else 0
    return _FIXED + len(json.dumps(command)) + DETAIL_MAX + results + token
