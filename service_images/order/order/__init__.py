"""Order service use cases (run one per ECS task: ``python -m order.<use_case>``)."""
