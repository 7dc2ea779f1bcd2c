"""Torch-free inference for proposal-router: load a bundle, predict, apply the routing policy."""

from proposal_router.model.errors import BundleError, DataError, RowIssue
from proposal_router.model.router import Router
from proposal_router.model.schemas import Candidate, Decision, Proposal, RoutingResult
from proposal_router.model.taxonomy import Taxonomy, load_taxonomy

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
