"""How results are shown: tables of figures and verdicts, space-time diagrams."""
