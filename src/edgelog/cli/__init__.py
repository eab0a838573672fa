"""The ``edgelog`` command line: thin wiring over the library layers."""
