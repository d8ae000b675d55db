"""The lifecycle steps: plain functions on hooks, one module per step; ``shared`` holds what several steps use.

A step imports no other step and no operator.
"""
