"""Local sandbox for `make demo`: the AWS emulator and the harness built on it."""
