"""The Tripletex sandbox server (see app.py)."""

from connectors.tripletex.sandbox.app import (
    DEFAULT_CONSUMER_TOKEN,
    DEFAULT_EMPLOYEE_TOKEN,
    TripletexSandbox,
    create_sandbox,
)

__all__ = ["DEFAULT_CONSUMER_TOKEN", "DEFAULT_EMPLOYEE_TOKEN", "TripletexSandbox", "create_sandbox"]
