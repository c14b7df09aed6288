"""Hand-written core that every generated method calls into (see operation.py for the contract)."""
