"""`reactbin import` and `reactbin export`: clients of the HTTP API, so every rule and limit of the server applies.

Nothing here touches the database or the store directly; the server may run anywhere.
"""
