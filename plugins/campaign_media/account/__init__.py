"""The account: the capability report the DAGs read (``capabilities``, a leaf) and the read-only check that writes it
(``check``)."""
