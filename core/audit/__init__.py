"""The append-only, tamper-evident audit log: typed events, canonical bytes, sealing (crypto-shredding),
the Merkle tree, signed checkpoints and their witnesses, verification, inclusion proofs, record origin,
the audited permission guard, countable facts, and who asked about whom. Imports policy, stores and
shared modules.
"""
