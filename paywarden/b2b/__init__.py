"""The B2B profile pool: issuer profiles, their groups and the invites that hand them out."""
