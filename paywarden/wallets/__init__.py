"""The clients' EUR and USD wallets on an append-only double-entry ledger."""
