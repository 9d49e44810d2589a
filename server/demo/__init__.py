"""``evoselfcode demo``: the whole loop on the smoke model and the scripted test server."""
