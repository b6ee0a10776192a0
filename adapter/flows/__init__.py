"""Flows: what composes several services, each with its own unit of work, or makes remote
calls between their commits. A flow takes the `Database` (or a worker's `WorkContext`), makes
a unit of work per step and hands it to the service; a service never imports a flow
(`make lint`: the contract "services never import the flows above them"). The command line,
the web app and the jobs call flows and services; docs/architecture.md has the map."""
