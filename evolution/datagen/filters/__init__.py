"""The name filter (stage A) and the code filter (stage B)."""
