"""The mutations bridge: subscribing schools after a verification, receiving SBB's pushes, reconciling subscriptions."""
