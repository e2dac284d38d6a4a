"""Building layer environments from a validated stack."""
