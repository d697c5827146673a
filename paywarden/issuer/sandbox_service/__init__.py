"""The sandbox card issuer: a service of its own (`paywarden sandbox-issuer`, or mounted under
`/sandbox-issuer`) with an issuer API, program balances and a simulator of card activity."""

from paywarden.issuer.sandbox_service.app import create_sandbox_app, mount_sandbox

__all__ = ["create_sandbox_app", "mount_sandbox"]
