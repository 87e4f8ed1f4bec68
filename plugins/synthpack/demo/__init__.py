"""The demo: a recipe (`recipes`) turned into a list of steps (`pipeline`) over the runners
the commands use, in one run folder."""
