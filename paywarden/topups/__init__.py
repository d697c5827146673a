"""Wallet top-ups in USDT, paid as orders of the gateway's internal Cards merchant."""
