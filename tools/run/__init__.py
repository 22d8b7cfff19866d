"""The one run: every chapter's code executed once (runner.py) under the network guard, `make outputs` (outputs.py), results on other torch versions (compat.py), the reader's pytest plugin."""
