"""Plans (the seed's tariffs) and the operators' EUR/USD rate."""
