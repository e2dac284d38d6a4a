"""A tiny statistics report that uses numpy from the shared framework layer."""
