"""Treasury: the card issuer's float (live balances and health, cached in the database), our
issuer calls' error rate, the operators' manual estimates with the runway, the low-float alert."""
