from tests.wallets.conftest import ledger

__all__ = ["ledger"]
