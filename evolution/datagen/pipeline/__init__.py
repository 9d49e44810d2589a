"""The stages: names (A), code (B) and optional scoring, and the orchestrator that runs them."""
