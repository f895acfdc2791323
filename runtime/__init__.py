"""The pose runtime, free of any protocol: backends, batching, the model repository and the pipelines.

Edges (the HTTP service today) build a `runtime.engine.PoseRuntime` from `runtime.options.RuntimeOptions`
and map `runtime.errors` to their own answers. Imports run edge -> runtime -> core, never back.
"""
