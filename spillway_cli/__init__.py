"""`spillway`: the operator's command line (local run, tokens, status, inspect)."""
