"""proposal-router: route Chinese government proposals (提案/建议) to a topic and the departments that handle them.

One installed package. `model` is the inference runtime (it imports neither of the others), `training`
fits and exports bundles, `service` is the API, web pages, storage and command line. The repository keeps
the three as top-level folders; this package links them so that nothing installs a bare `model` or
`service` into site-packages.
"""
