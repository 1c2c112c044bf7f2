"""The TF1 graph path: restore checkpoints and ``.pb`` files three ways, pick the var_list,
plan the restore, fine-tune a cut graph. Graphs live in explicit ``tf.Graph``/``Session``
contexts, so eager Keras keeps working in the same process.

    >>> from ftcore.graph import GraphFineTuner, load_pb, read_variable, restore_meta_graph
"""

from ftcore.graph.checkpoint_files import (
    checkpoint_contents,
    read_checkpoint_value,
    resolve_checkpoint,
)
from ftcore.graph.finetune import GraphFineTuner, GraphStage, Restoring, Training, attach_graph_head
from ftcore.graph.names import (
    import_graph,
    list_nodes,
    list_tensors,
    list_variables,
    op_name,
    resolve_tensor,
    single_placeholder,
)
from ftcore.graph.optimize import count_ops, optimize
from ftcore.graph.restore import (
    load_meta_graph,
    load_pb,
    read_variable,
    restore_built_graph,
    restore_meta_graph,
    restore_slim_mobilenet_v2,
)
from ftcore.graph.restore_plan import RestorePlan, plan_restore, restore_and_initialize
from ftcore.graph.safety import load_graph_def
from ftcore.graph.var_selection import ancestor_variables, filter_by_scopes

__all__ = [
    "GraphFineTuner",
    "GraphStage",
    "RestorePlan",
    "Restoring",
    "Training",
    "ancestor_variables",
    "attach_graph_head",
    "checkpoint_contents",
    "count_ops",
    "filter_by_scopes",
    "import_graph",
    "list_nodes",
    "list_tensors",
    "list_variables",
    "load_graph_def",
    "load_meta_graph",
    "load_pb",
    "op_name",
    "optimize",
    "plan_restore",
    "read_checkpoint_value",
    "read_variable",
    "resolve_checkpoint",
    "resolve_tensor",
    "restore_and_initialize",
    "restore_built_graph",
    "restore_meta_graph",
    "restore_slim_mobilenet_v2",
    "single_placeholder",
]
