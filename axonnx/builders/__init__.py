"""Builders of graph nodes: functions that take nodes and return a new node."""
