"""A client's wallet ledger: its lines, page by page, and its postings summed by kind."""
