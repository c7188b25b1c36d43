"""WL 2.0 (Edukoppeling) pieces of the adapter: WS-Addressing, the zeep client, the push receiver."""
