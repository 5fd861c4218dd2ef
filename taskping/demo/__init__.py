"""`taskping demo`: the whole loop on real parts on loopback (see run.py)."""
