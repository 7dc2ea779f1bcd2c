"""The service side of proposal-router: configuration, command line (and later the API and storage)."""
