"""Operator tools for a deployed stack."""
