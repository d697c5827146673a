"""The cards product's rollup: flows per 15-minute bucket and a few stock figures, kept by
database triggers in the writers' transactions, read by day in the report time zone."""
