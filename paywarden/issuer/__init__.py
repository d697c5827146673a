"""The card issuer, behind an adapter: `base.IssuerAdapter` and its implementations."""
