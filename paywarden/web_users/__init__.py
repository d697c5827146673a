"""Web sign-ups of the cards product: email + password logins for `web_<id>` clients."""
