"""Card transactions: real-time authorization, the issuer's webhook inbox, 3-D Secure codes."""
