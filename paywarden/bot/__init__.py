"""The Telegram bot, `paywarden bot`: commands in the client's language, the notification sender."""
