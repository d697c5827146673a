"""The bot's outbox: notifications written in the transaction of the event they tell."""
