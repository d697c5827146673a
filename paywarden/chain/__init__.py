"""The chain scanner: reads USDT Transfer events block by block and hands payments to orders."""
