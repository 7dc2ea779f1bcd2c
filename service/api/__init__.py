"""The HTTP API (FastAPI), versioned under /v1, and the reviewers' web page."""
