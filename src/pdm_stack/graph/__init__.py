"""The layer graph: inheritance, C3 sys.path order, platforms and layer selection."""

from pdm_stack.graph.c3 import C3Conflict, c3_merge
from pdm_stack.graph.layer_graph import Layer, StackGraph, build_graph
from pdm_stack.graph.selection import select_layers

__all__ = ["C3Conflict", "Layer", "StackGraph", "build_graph", "c3_merge", "select_layers"]
