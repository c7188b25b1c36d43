"""SOAP plumbing shared by the adapter and the simulator: safe parsing, envelopes and faults, WS-Addressing,
OINs, WSDL serving."""
