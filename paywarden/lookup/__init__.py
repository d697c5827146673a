"""Lookup by ID: one box where an operator pastes any id and finds what it names."""
