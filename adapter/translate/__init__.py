"""Translation between WL 1.0 and WL 2.0: plain data-in/data-out functions and the code tables they use.

Nothing here does I/O. Requests and results are dicts keyed by element name, values already typed
(int, bool, datetime.date, str, nested dicts, lists); dict order is XSD order.
"""
