"""What a client's app shows in one call (`GET /api/botcartd/state`)."""
