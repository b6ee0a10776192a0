"""Repositories: one per aggregate, each bound to a connection and (except companies) a company."""
