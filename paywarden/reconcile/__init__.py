"""`paywarden reconcile`: the books against the chain, and against themselves. Read-only.

Where it sits: it reads across the gateway (orders, transfers, sweeps, webhook events) and the
cards (top-ups, the ledger, the issuer float), so it belongs to neither product's layer. Like
`worker.py` and `subscribers.py` it is a top-level composition: it may read any package's
models and call services (`chain.service`'s block read, `wallets.service.check`), keeps its own
SQL in `repository.py`, and nothing but `cli.py` imports it (tests/test_import_graph.py holds
both rules).

- `service.py`: the checks, one function each, each returning a `findings.Check`;
- `books.py`: the cards' checks (top-up credits, the ledger and the issuer float);
- `chain_walk.py`: the window's blocks, read as the scanner reads them;
- `options.py`: what a run is given, and its read-only keyset pages (`pages`);
- `findings.py`: differences, notes, per-check counts; `report.py`: text and JSON;
- `repository.py`: every query.
"""
