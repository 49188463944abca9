"""Emitters: read an inferred graph, write modules, source, diagrams and reports."""
