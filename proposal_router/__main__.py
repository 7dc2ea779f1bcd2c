"""`python -m proposal_router` is the `proposal-router` command."""

from proposal_router.service.cli import main

raise SystemExit(main())
