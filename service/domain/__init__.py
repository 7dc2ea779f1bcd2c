"""What the service does, in its own terms: submit and read proposals, review them, manage keys.

The adapters above (`service.api`, `service.web`, `service.cli`) parse a request, call a function here and
render what it returns; the functions take and return the runtime's types (`Proposal`, `RoutingResult`,
`Term`) or the small domain types defined here, never an HTTP schema. Below them `service.store` keeps
the records. Batch jobs (`service.batches`) sit on this layer too.
"""
