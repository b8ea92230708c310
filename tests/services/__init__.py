"""Tests of the Order and Customer service images (a package, so its conftest never shadows tests/conftest.py)."""
