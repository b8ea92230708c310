"""event-tasks: validate the stack config, build the stack, export its outputs."""

import pulumi

from components.config import ConfigError, load_config, pulumi_config_map
from components.stack import build

try:
    config = load_config(pulumi_config_map(), pulumi.get_stack())
    outputs = build(config)
except ConfigError as error:
    # RunError prints the message alone: the problems, not a stack trace.
    raise pulumi.RunError(str(error)) from None

for key, value in outputs.items():
    pulumi.export(key, value)
