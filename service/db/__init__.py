"""Persistent state of the service: proposals, review decisions, the audit log and API keys."""
