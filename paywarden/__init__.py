"""PayWarden: a self-hosted USDT gateway and crypto-funded card platform."""

__version__ = "0.1.0"
