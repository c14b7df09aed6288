"""Hand-written confidential layer: envelope crypto, Sui signatures, the lock->encrypt->send->decrypt->verify
flow, verification policy and receipts."""
