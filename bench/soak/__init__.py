"""The soak's parts (bench/soak.py is the entry): the processes it runs and kills, the round-robin
proxy, the webhook receiver, the load, and the final checks and report."""
