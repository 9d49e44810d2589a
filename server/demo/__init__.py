"""``evoselfcode demo``: the whole loop on the shipped small model and the scripted test server."""
