"""Checks of the built and published site (page budget, accessibility, search, the publish steps) and `make bench`."""
