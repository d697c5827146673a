"""Support settings: the contact, hours and reply times clients see."""
