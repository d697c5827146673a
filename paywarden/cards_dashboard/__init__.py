"""The cards dashboard: the business at a glance (the seed's "Server aggregates") and the
daily series its charts draw."""
