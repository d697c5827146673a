"""The outside world of the bot: the Telegram Bot API behind a small interface (`client.py`),
and a stand-in Bot API server for development, tests and benchmarks (`fake_api.py`)."""
