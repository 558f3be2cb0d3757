"""Trust: who may say what, and the record of what was done.

Stage: below the store for the audit chain (``router.trust.audit`` is pure: the
store computes each entry's hash with it inside the transaction that appends it).
"""
