"""Torch-free inference for proposal-router: load a bundle, predict, apply the routing policy."""

from model.errors import BundleError, DataError, RowIssue
from model.router import Router
from model.schemas import Candidate, Decision, Proposal, RoutingResult
from model.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "BundleError",
    "Candidate",
    "DataError",
    "Decision",
    "Proposal",
    "Router",
    "RoutingResult",
    "RowIssue",
    "Taxonomy",
    "load_taxonomy",
]
