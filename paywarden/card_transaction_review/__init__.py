"""Card transactions for support and anti-fraud: the filtered list and the breakdowns."""
