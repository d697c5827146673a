"""Plans in use: each client's subscription and its monthly fee."""
