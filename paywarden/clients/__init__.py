"""Clients of the cards product (bot users and web sign-ups)."""
