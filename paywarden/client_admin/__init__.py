"""The operators' client admin API: the clients list, the client page's figures, changes and
money moves."""
