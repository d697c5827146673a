"""Signed merchant webhooks (Standard Webhooks), written to an outbox and sent by a worker loop."""
