"""Use cases. They take ports as constructor arguments and do no I/O of their own."""
