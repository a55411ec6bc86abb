"""Authentication: caller verification (phone + PIN, contact ID + PIN, lockout) and admin identity."""
