"""Customer service use cases (run one per ECS task: ``python -m customer.<use_case>``)."""
